import { expect, test } from "bun:test";
import { GcPacer } from "../../src/node/gc-pacer.ts";

function pacer(rss: () => number) {
  const runs: string[] = [];
  const p = new GcPacer({
    quickEvery: 10,
    fullEvery: 100,
    minFullGap: 30,
    rssSoftLimit: 1000,
    rss,
    collect: (full) => runs.push(full ? "full" : "quick"),
  });
  return { p, runs };
}

test("with the resident set under its soft limit: a quick collection per quick threshold, a full one per full threshold", () => {
  const { p, runs } = pacer(() => 500);
  p.note(4);
  p.note(5);
  expect(runs).toEqual([]);
  p.note(1); // 10: quick threshold reached
  expect(runs).toEqual(["quick"]);
  p.note(9);
  expect(runs).toEqual(["quick"]);
  p.note(25); // one collection however far past a threshold
  expect(runs).toEqual(["quick", "quick"]);
  for (let i = 0; i < 5; i++) p.note(10); // 94 since the start
  expect(runs.filter((r) => r === "full")).toEqual([]);
  p.note(10); // 104 >= 100: the full one
  expect(runs.at(-1)).toBe("full");
  p.note(9);
  expect(runs.at(-1)).toBe("full"); // the full one reset the quick count too
  p.note(1);
  expect(runs.at(-1)).toBe("quick");
});

test("over the soft limit a quick point becomes a full collection, at most once per minimum gap", () => {
  let rss = 500;
  const { p, runs } = pacer(() => rss);
  p.note(10);
  expect(runs).toEqual(["quick"]);
  rss = 1500;
  p.note(10); // 20 since the last full: under the gap
  expect(runs).toEqual(["quick", "quick"]);
  p.note(10); // 30: over the limit and past the gap
  expect(runs).toEqual(["quick", "quick", "full"]);
  p.note(10); // the gap counts again from the full one, however high the resident set stays
  p.note(10);
  expect(runs).toEqual(["quick", "quick", "full", "quick", "quick"]);
  p.note(10);
  expect(runs.at(-1)).toBe("full");
});

test("the default collector and resident-set reader are real (Bun.gc, process.memoryUsage)", () => {
  const p = new GcPacer({ quickEvery: 1, fullEvery: 4, minFullGap: 1, rssSoftLimit: 1 });
  expect(() => {
    p.note(1);
    p.note(1);
  }).not.toThrow();
});
