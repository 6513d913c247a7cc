import { describe, expect, test } from "bun:test";
import {
  type ClockOrder,
  compareClocks,
  incrementClock,
  mergeClocks,
  normalized,
  type VectorClock,
} from "../../src/store/vector-clock.ts";

describe("compareClocks", () => {
  const table: Array<[VectorClock, VectorClock, ClockOrder]> = [
    [{}, {}, "equal"],
    [{ a: 1 }, { a: 1 }, "equal"],
    [{ a: 0 }, {}, "equal"], // a missing key counts as 0
    [{ a: 1, b: 0 }, { a: 1 }, "equal"],
    [{}, { a: 1 }, "before"],
    [{ a: 1 }, {}, "after"],
    [{ a: 1 }, { a: 2 }, "before"],
    [{ a: 2 }, { a: 1 }, "after"],
    [{ a: 1 }, { a: 1, b: 1 }, "before"], // missing key on the left
    [{ a: 1, b: 1 }, { a: 1 }, "after"], // missing key on the right
    [{ a: 2, b: 1 }, { a: 1, b: 1 }, "after"],
    [{ a: 1, b: 2 }, { a: 2, b: 2 }, "before"],
    [{ a: 1 }, { b: 1 }, "concurrent"], // disjoint keys
    [{ a: 2, b: 1 }, { a: 1, b: 2 }, "concurrent"],
    [{ a: 1, b: 1 }, { a: 2, c: 1 }, "concurrent"],
    [{ a: 3, b: 0 }, { b: 1 }, "concurrent"],
  ];
  for (const [a, b, want] of table) {
    test(`${JSON.stringify(a)} vs ${JSON.stringify(b)} -> ${want}`, () => {
      expect(compareClocks(a, b)).toBe(want);
      const mirror: Record<ClockOrder, ClockOrder> = {
        equal: "equal",
        before: "after",
        after: "before",
        concurrent: "concurrent",
      };
      expect(compareClocks(b, a)).toBe(mirror[want]);
    });
  }

  test("inherited object keys are not counters", () => {
    expect(compareClocks({ toString: 0 } as VectorClock, {})).toBe("equal");
    expect(compareClocks(JSON.parse('{"__proto__": 5}'), {})).toBe("after");
  });
  test("a node called __proto__ is an ordinary counter", () => {
    const c = incrementClock({}, "__proto__");
    expect(Object.keys(c)).toEqual(["__proto__"]);
    expect(compareClocks(c, {})).toBe("after");
    expect(Object.keys(mergeClocks({}, c))).toEqual(["__proto__"]);
  });
});

describe("incrementClock", () => {
  test("returns a new object and leaves the input untouched", () => {
    const c = { a: 1 };
    const d = incrementClock(c, "a");
    expect(d).toEqual({ a: 2 });
    expect(c).toEqual({ a: 1 });
    expect(d).not.toBe(c);
  });
  test("a missing node starts at 1", () => {
    expect(incrementClock({ a: 3 }, "b")).toEqual({ a: 3, b: 1 });
    expect(incrementClock({}, "n1")).toEqual({ n1: 1 });
  });
  test("the result dominates the input", () => {
    const c = { a: 2, b: 5 };
    expect(compareClocks(incrementClock(c, "b"), c)).toBe("after");
  });
});

describe("mergeClocks", () => {
  test("pointwise max over the union of keys", () => {
    expect(mergeClocks({ a: 1, b: 5 }, { a: 3, c: 2 })).toEqual({ a: 3, b: 5, c: 2 });
  });
  test("does not mutate inputs and dominates both", () => {
    const a = { x: 2, y: 1 };
    const b = { x: 1, y: 3 };
    const m = mergeClocks(a, b);
    expect(a).toEqual({ x: 2, y: 1 });
    expect(b).toEqual({ x: 1, y: 3 });
    expect(["after", "equal"]).toContain(compareClocks(m, a));
    expect(["after", "equal"]).toContain(compareClocks(m, b));
    expect(compareClocks(m, a)).toBe("after");
  });
  test("commutative and idempotent", () => {
    const a = { p: 4, q: 1 };
    const b = { q: 7, r: 2 };
    expect(mergeClocks(a, b)).toEqual(mergeClocks(b, a));
    expect(mergeClocks(a, a)).toEqual(a);
  });
});

describe("normalized", () => {
  test("drops zeros and sorts keys for a deterministic encoding", () => {
    expect(JSON.stringify(normalized({ b: 1, a: 2, z: 0 }))).toBe('{"a":2,"b":1}');
  });
});
