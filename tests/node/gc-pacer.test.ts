import { expect, test } from "bun:test";
import { GcPacer } from "../../src/node/gc-pacer.ts";

test("collects once per threshold of bytes, then counts again from zero", () => {
  let runs = 0;
  const p = new GcPacer(10, () => runs++);
  p.note(4);
  p.note(5);
  expect(runs).toBe(0);
  p.note(1); // 10: threshold reached
  expect(runs).toBe(1);
  p.note(9);
  expect(runs).toBe(1);
  p.note(25); // one collection however far past the threshold
  expect(runs).toBe(2);
});

test("the default collector is a real full collection (Bun.gc)", () => {
  const p = new GcPacer(1);
  expect(() => p.note(1)).not.toThrow();
});
