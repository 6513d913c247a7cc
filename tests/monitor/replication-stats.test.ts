import { describe, expect, test } from "bun:test";
import { quantile, ReplicationStats } from "../../src/monitor/replication-stats.ts";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const apply = (o: Partial<Record<string, unknown>> = {}) => ({
  type: "apply",
  op: "put",
  path: "a.txt",
  origin: "node2",
  size: 10,
  hash: "h",
  index: 7,
  applyMs: 1,
  wrote: true,
  mtimeMs: 0,
  ...o,
});

describe("ReplicationStats", () => {
  test("average replication time follows the original: first sample as is, then (old*9+new)/10", () => {
    const c = clock();
    const s = new ReplicationStats(c.now);
    const seen: number[] = [];
    for (const lat of [100, 200, 300]) {
      s.record(apply({ mtimeMs: c.t - lat }));
      seen.push(s.counters().avgReplicationTimeMs);
    }
    expect(seen).toEqual([100, 110, 129]);
  });

  test("an apply counts a replicated file, its bytes, the time and the latency from the origin's mtime", () => {
    const c = clock();
    const s = new ReplicationStats(c.now);
    expect(s.counters().lastReplicationAt).toBeNull();
    const ev = s.record(apply({ size: 1234, mtimeMs: c.t - 42.5 }));
    expect(ev).toMatchObject({
      type: "apply",
      op: "put",
      path: "a.txt",
      origin: "node2",
      index: 7,
      latencyMs: 42.5,
    });
    expect(s.counters()).toMatchObject({ filesReplicated: 1, bytesReplicated: 1234, lastReplicationAt: c.t });
    expect(s.latencySamples()).toEqual([{ at: c.t, ms: 42.5, path: "a.txt" }]);
  });

  test("a future mtime (clock skew) is clamped to zero latency", () => {
    const c = clock();
    const s = new ReplicationStats(c.now);
    expect(s.record(apply({ mtimeMs: c.t + 5000 }))?.latencyMs).toBe(0);
    expect(s.counters().avgReplicationTimeMs).toBe(0);
  });

  test("mkdir is an event but not a replicated file", () => {
    const s = new ReplicationStats(clock().now);
    expect(s.record(apply({ op: "mkdir", size: 0 }))?.op).toBe("mkdir");
    expect(s.counters().filesReplicated).toBe(0);
    expect(s.latencySamples()).toHaveLength(0);
  });

  test("conflicts, deletes, rejections and restores move their counters", () => {
    const s = new ReplicationStats(clock().now);
    s.record({
      type: "conflict",
      path: "x.txt",
      conflictPath: "x.sync-conflict-1.txt",
      origin: "n3",
      size: 5,
      index: 9,
    });
    s.record({ type: "delete", op: "delete", path: "y.txt", origin: "n1", index: 10 });
    s.record({ type: "delete", op: "rmdir", path: "d", origin: "n1", index: 11 });
    s.record({ type: "skip", reason: "rejected", path: "z", origin: "n1", index: 12, detail: "z is a file" });
    s.record({ type: "skip", reason: "noop", path: "z", origin: "n1", index: 13 });
    s.record({ type: "restore", files: 20, written: 3, removed: 2, index: 100 });
    s.recordError();
    expect(s.counters()).toMatchObject({
      conflicts: 1,
      filesReplicated: 1 + 3,
      bytesReplicated: 5,
      filesDeleted: 1 + 2,
      replicationErrors: 2,
    });
    expect(s.recentEvents().map((e) => e.type)).toEqual([
      "conflict",
      "delete",
      "delete",
      "rejected",
      "restore",
    ]);
    expect(s.recentConflicts()[0]).toMatchObject({ path: "x.txt", conflictPath: "x.sync-conflict-1.txt" });
  });

  test("raft role and membership events are not replication events", () => {
    const s = new ReplicationStats(clock().now);
    expect(s.record({ type: "role", role: "leader", leader: "n1" })).toBeNull();
    expect(s.record({ type: "members", voters: [], learners: [] })).toBeNull();
    expect(s.recentEvents()).toEqual([]);
  });

  test("recent events and conflicts are bounded, newest kept; conflicts survive a burst of applies", () => {
    const s = new ReplicationStats(clock().now, 5);
    s.record({ type: "conflict", path: "c", conflictPath: "c2", origin: "n", size: 1, index: 1 });
    for (let i = 0; i < 20; i++) s.record(apply({ path: `f${i}` }));
    expect(s.recentEvents().map((e) => e.path)).toEqual(["f15", "f16", "f17", "f18", "f19"]);
    expect(s.recentConflicts().map((e) => e.path)).toEqual(["c"]);
  });
});

test("quantile is nearest-rank", () => {
  expect(quantile([], 0.5)).toBeNull();
  expect(quantile([5, 1, 3, 2, 4], 0.5)).toBe(3);
  expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)).toBe(10);
  expect(quantile([1, 2, 3, 4], 0)).toBe(1);
});
