import { describe, expect, test } from "bun:test";
import { PushedChunks } from "../../src/node/pushed-chunks.ts";

describe("PushedChunks", () => {
  test("a chunk counts as held only by the peers that took it", () => {
    const p = new PushedChunks();
    p.note("h1", "node2");
    expect(p.heldByAll("h1", ["node2"])).toBe(true);
    expect(p.heldByAll("h1", ["node2", "node3"])).toBe(false);
    p.note("h1", "node3");
    expect(p.heldByAll("h1", ["node2", "node3"])).toBe(true);
    expect(p.heldByAll("h2", ["node2"])).toBe(false);
  });

  test("forget takes one peer off a chunk", () => {
    const p = new PushedChunks();
    p.note("h1", "node2");
    p.note("h1", "node3");
    p.forget("h1", "node3");
    expect(p.heldByAll("h1", ["node2"])).toBe(true);
    expect(p.heldByAll("h1", ["node3"])).toBe(false);
  });

  test("records older than maxAgeMs are not trusted, and a new note starts a fresh record", () => {
    let now = 1_000;
    const p = new PushedChunks({ maxChunks: 10, maxAgeMs: 100, now: () => now });
    p.note("h1", "node2");
    now += 100;
    expect(p.heldByAll("h1", ["node2"])).toBe(true);
    now += 1;
    expect(p.heldByAll("h1", ["node2"])).toBe(false);
    p.note("h1", "node3"); // the stale record does not lend node2 to the new one
    expect(p.heldByAll("h1", ["node3"])).toBe(true);
    expect(p.heldByAll("h1", ["node2"])).toBe(false);
  });

  test("beyond maxChunks the oldest records go first", () => {
    const p = new PushedChunks({ maxChunks: 3, maxAgeMs: 60_000 });
    for (const h of ["a", "b", "c", "d"]) p.note(h, "node2");
    expect(p.size).toBe(3);
    expect(p.heldByAll("a", ["node2"])).toBe(false);
    expect(["b", "c", "d"].every((h) => p.heldByAll(h, ["node2"]))).toBe(true);
  });
});
