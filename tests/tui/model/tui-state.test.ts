import { describe, expect, test } from "bun:test";
import {
  eventLatency,
  FEED_LIMIT,
  initialState,
  LOG_LIMIT,
  withCluster,
  withClusterError,
  withEvent,
  withLogLine,
} from "../../../tui/model/tui-state.ts";
import { leaderOf3, member, nodeStatus, threeHealthy } from "../fixtures.ts";

const apply = (node: string, over: Record<string, unknown> = {}) => ({
  type: "apply",
  op: "put",
  path: "a.txt",
  origin: "node2",
  size: 12,
  hash: "ab",
  index: 7,
  applyMs: 3,
  mtimeMs: 1000,
  at: 1040,
  node,
  ...over,
});

describe("withEvent", () => {
  test("the same entry reported by three members is one feed item applied on three", () => {
    let s = initialState("attach", "t");
    s = withEvent(s, apply("node2", { at: 1010 }), 0);
    s = withEvent(s, apply("node1", { at: 1030 }), 0);
    s = withEvent(s, apply("node3", { at: 1090 }), 0);
    expect(s.feed).toHaveLength(1);
    expect(s.feed[0]!.appliedOn).toEqual({ node2: 10, node1: 30, node3: 90 });
    expect(s.feed[0]!.origin).toBe("node2");
    // A later entry for the same path is a new item.
    s = withEvent(s, apply("node1", { index: 8 }), 0);
    expect(s.feed).toHaveLength(2);
  });

  test("latency comes from the origin's mtime when plausible, else the apply duration", () => {
    expect(eventLatency({ type: "apply", at: 5000, mtimeMs: 4000, applyMs: 2 })).toBe(1000);
    expect(eventLatency({ type: "apply", at: 500_000, mtimeMs: 1000, applyMs: 2 })).toBe(2); // old file
    expect(eventLatency({ type: "apply", at: 500, mtimeMs: 1000, applyMs: 2 })).toBe(2); // clock skew
    expect(eventLatency({ type: "delete" })).toBeNull();
  });

  test("conflicts are kept with their copy's path and logged; no-op skips are dropped", () => {
    let s = initialState("attach", "t");
    s = withEvent(
      s,
      {
        type: "conflict",
        path: "x.txt",
        conflictPath: "x.sync-conflict-1-node3.txt",
        origin: "node3",
        size: 1,
        index: 9,
        node: "node1",
      },
      0,
    );
    s = withEvent(s, { type: "skip", path: "y", reason: "noop", index: 10, node: "node1" }, 0);
    expect(s.feed.map((f) => f.type)).toEqual(["conflict"]);
    expect(s.feed[0]!.detail).toContain("x.sync-conflict-1-node3.txt");
    expect(s.logs.at(-1)!.msg).toContain("conflict on x.txt");
  });

  test("raft events become log lines", () => {
    let s = initialState("attach", "t");
    s = withEvent(s, { type: "role", role: "leader", leader: "node2", node: "node2" }, 5);
    s = withEvent(s, { type: "role", role: "follower", node: "node3" }, 5);
    s = withEvent(s, { type: "members", voters: ["node1", "node2"], learners: [], node: "node1" }, 5);
    expect(s.logs.map((l) => l.msg)).toEqual(["became leader", "membership: voters [node1,node2]"]);
  });

  test("feed and log are bounded", () => {
    let s = initialState("attach", "t");
    for (let i = 0; i < FEED_LIMIT + 20; i++) s = withEvent(s, apply("node1", { index: i }), 0);
    expect(s.feed).toHaveLength(FEED_LIMIT);
    expect(s.feed.at(-1)!.index).toBe(FEED_LIMIT + 19);
    for (let i = 0; i < LOG_LIMIT + 5; i++)
      s = withLogLine(s, { at: i, level: "info", node: null, msg: String(i) });
    expect(s.logs).toHaveLength(LOG_LIMIT);
    expect(s.logs.at(-1)!.msg).toBe(String(LOG_LIMIT + 4));
  });
});

describe("withCluster", () => {
  test("a new leader, a member going down and coming back are logged", () => {
    let s = withCluster(initialState("attach", "t"), threeHealthy(), "node2", "t", 1);
    expect(s.logs.map((l) => l.msg)).toEqual(["leader is node1 (term 2)"]);
    s = withCluster(
      s,
      [
        member("node1", null),
        member("node2", nodeStatus("node2", { role: "leader", term: 3, leader: "node2" })),
        member("node3", nodeStatus("node3", { term: 3, leader: "node2" })),
      ],
      "node2",
      "t",
      2,
    );
    expect(s.logs.slice(1).map((l) => l.msg)).toEqual([
      "unreachable: connection refused",
      "leader is node2 (term 3)",
    ]);
    s = withCluster(s, threeHealthy(), "node2", "t", 3);
    expect(s.logs.map((l) => l.msg)).toContain("reachable again");
  });

  test("a member behind the leader's commit gets a catch-up baseline that stays while it catches up", () => {
    const at = (applied: number) => [
      member("node1", leaderOf3({ commit: 100, lastIndex: 100 })),
      member("node2", nodeStatus("node2", { applied, commit: 100 })),
      member("node3", nodeStatus("node3", { applied: 100, commit: 100 })),
    ];
    let s = withCluster(initialState("attach", "t"), at(40), "node1", "t", 1);
    expect(s.catchUp).toEqual({ node2: { from: 40, target: 100 } });
    s = withCluster(s, at(70), "node1", "t", 2);
    expect(s.catchUp).toEqual({ node2: { from: 40, target: 100 } });
    s = withCluster(s, at(100), "node1", "t", 3);
    expect(s.catchUp).toEqual({});
  });

  test("the same error is logged once", () => {
    let s = withClusterError(initialState("attach", "t"), "refused", 1);
    s = withClusterError(s, "refused", 2);
    expect(s.logs).toHaveLength(1);
    expect(s.clusterError).toBe("refused");
    s = withCluster(s, threeHealthy(), "node1", "t", 3);
    expect(s.clusterError).toBeNull();
  });
});
