// The checker itself: it must accept linearizable histories and reject the classic anomalies.
import { describe, expect, test } from "bun:test";
import { checkRegister, checkRegisters, type Operation } from "./linearizability.ts";

const w = (value: string, start: number, end: number): Operation => ({
  key: "k",
  kind: "write",
  value,
  start,
  end,
});
const r = (value: string | null, start: number, end: number): Operation => ({
  key: "k",
  kind: "read",
  value,
  start,
  end,
});

describe("register linearizability checker", () => {
  test("sequential history: ok; a read of an overwritten value: not ok", () => {
    expect(checkRegister([w("a", 0, 1), r("a", 2, 3), w("b", 4, 5), r("b", 6, 7)]).ok).toBe(true);
    expect(checkRegister([w("a", 0, 1), w("b", 2, 3), r("a", 4, 5)]).ok).toBe(false);
  });

  test("initial value is null (absent) and a read before any write must see it", () => {
    expect(checkRegister([r(null, 0, 1), w("a", 2, 3)]).ok).toBe(true);
    expect(checkRegister([r("a", 0, 1), w("a", 2, 3)]).ok).toBe(false);
  });

  test("concurrent writes may take effect in either order, but reads must agree on one order", () => {
    const ww = [w("a", 0, 10), w("b", 0, 10)];
    expect(checkRegister([...ww, r("a", 11, 12)]).ok).toBe(true);
    expect(checkRegister([...ww, r("b", 11, 12)]).ok).toBe(true);
    expect(checkRegister([...ww, r("a", 11, 12), r("b", 13, 14), r("a", 15, 16)]).ok).toBe(false);
  });

  test("a read concurrent with a write may see the old or the new value, but not go back", () => {
    expect(checkRegister([w("a", 0, 1), w("b", 2, 10), r("a", 3, 4), r("b", 5, 6)]).ok).toBe(true);
    expect(checkRegister([w("a", 0, 1), w("b", 2, 10), r("b", 3, 4), r("a", 5, 6)]).ok).toBe(false);
  });

  test("an unknown-outcome write (end = Infinity) may happen late, or never", () => {
    expect(checkRegister([w("a", 0, 1), w("x", 2, Infinity), r("a", 3, 4), r("x", 5, 6)]).ok).toBe(true);
    expect(checkRegister([w("a", 0, 1), w("x", 2, Infinity), r("a", 3, 4), r("a", 5, 6)]).ok).toBe(true);
    // ...but not before it was called.
    expect(checkRegister([w("a", 0, 1), r("x", 2, 3), w("x", 4, Infinity)]).ok).toBe(false);
  });

  test("keys are independent, and a failure names its key", () => {
    const ops: Operation[] = [
      { key: "x", kind: "write", value: "1", start: 0, end: 1 },
      { key: "y", kind: "write", value: "2", start: 0, end: 1 },
      { key: "x", kind: "read", value: "1", start: 2, end: 3 },
      { key: "y", kind: "read", value: "1", start: 2, end: 3 },
    ];
    const res = checkRegisters(ops);
    expect(res.ok).toBe(false);
    expect(res.keys).toEqual({ x: true, y: false });
  });

  test("a few hundred concurrent operations are checked quickly", () => {
    // A valid history built from a known linearization with overlapping windows.
    const ops: Operation[] = [];
    let cur: string | null = null;
    for (let i = 0; i < 400; i++) {
      const t = i * 10;
      if (i % 3 === 0) {
        cur = `v${i}`;
        ops.push(w(cur, t - 15, t + 15));
      } else ops.push(r(cur, t - 4, t + 15));
    }
    const t0 = performance.now();
    expect(checkRegister(ops).ok).toBe(true);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
