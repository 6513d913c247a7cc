import { expect, test } from "bun:test";
import { GcPacer } from "../../src/node/gc-pacer.ts";

test("a quick collection per quick threshold, a full one per full threshold, counting from zero after each", () => {
  const runs: string[] = [];
  const p = new GcPacer(10, 30, (full) => runs.push(full ? "full" : "quick"));
  p.note(4);
  p.note(5);
  expect(runs).toEqual([]);
  p.note(1); // 10: quick threshold reached
  expect(runs).toEqual(["quick"]);
  p.note(9);
  expect(runs).toEqual(["quick"]);
  p.note(25); // one collection however far past a threshold; 44 >= 30 makes it the full one
  expect(runs).toEqual(["quick", "full"]);
  p.note(9);
  expect(runs).toEqual(["quick", "full"]); // the full one reset the quick count too
  p.note(1);
  expect(runs).toEqual(["quick", "full", "quick"]);
});

test("the default collector runs real collections (Bun.gc)", () => {
  const p = new GcPacer(1, 2);
  expect(() => {
    p.note(1);
    p.note(1);
  }).not.toThrow();
});
