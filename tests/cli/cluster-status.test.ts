import { describe, expect, test } from "bun:test";
import {
  buildClusterView,
  formatMs,
  type MemberSelf,
  type MemberSnapshot,
  parseClusterJson,
  selfFromNodeStatus,
} from "../../src/cli/cluster-status.ts";
import { formatClusterView, formatMemberTable } from "../../src/cli/cluster-status-format.ts";
import type { NodeStatus } from "../../src/node/pickbox-node.ts";

function self(p: Partial<MemberSelf> = {}): MemberSelf {
  return {
    role: "follower",
    term: 3,
    leader: "node1",
    commit: 10,
    applied: 10,
    lastIndex: 10,
    files: 2,
    bytes: 20,
    adminAddress: null,
    progress: [],
    ...p,
  };
}

const leaderSelf = (progress: MemberSelf["progress"], p: Partial<MemberSelf> = {}) =>
  self({ role: "leader", adminAddress: "127.0.0.1:9001", progress, ...p });

function member(id: string, s: MemberSelf | null, voter = true, error: string | null = null): MemberSnapshot {
  return { id, voter, address: `127.0.0.1:800${id.slice(4)}`, self: s, error: s ? null : (error ?? "down") };
}

describe("buildClusterView", () => {
  test("healthy cluster: lag and contact come from the leader's progress; members sorted node1, node2, node10", () => {
    const v = buildClusterView("127.0.0.1:9002", [
      member("node10", self({ lastIndex: 8, applied: 8 }), false),
      member("node2", self()),
      member(
        "node1",
        leaderSelf([
          { id: "node1", match: 10, lastContactMs: 0 },
          { id: "node2", match: 10, lastContactMs: 50 },
          { id: "node10", match: 8, lastContactMs: 100 },
        ]),
      ),
    ]);
    expect(v.members.map((m) => m.id)).toEqual(["node1", "node2", "node10"]);
    expect(v.leader).toBe("node1");
    expect(v.term).toBe(3);
    expect(v.health).toBe("healthy");
    expect(v.problems).toEqual([]);
    expect([v.voters, v.learners, v.votersUp, v.quorum]).toEqual([2, 1, 2, 2]);
    const n10 = v.members[2]!;
    expect([n10.match, n10.lag, n10.lastContactMs, n10.voter]).toEqual([8, 2, 100, false]);
    expect(v.members[0]!.lastContactMs).toBe(0);
    expect(v.members[0]!.lag).toBe(0);
  });

  test("a member that does not answer is down; the cluster is degraded while a majority of voters is up", () => {
    const v = buildClusterView("a", [
      member("node1", leaderSelf([{ id: "node3", match: 4, lastContactMs: 5000 }])),
      member("node2", self()),
      member("node3", null, true, "connect ECONNREFUSED"),
    ]);
    expect(v.members[2]!.health).toBe("down");
    expect(v.members[2]!.lastContactMs).toBe(5000);
    expect(v.health).toBe("degraded");
    expect(v.problems).toEqual(["node3 does not answer: connect ECONNREFUSED"]);
  });

  test("without a majority of voters, or without a leader, the cluster is unavailable", () => {
    const noQuorum = buildClusterView("a", [
      member("node1", leaderSelf([])),
      member("node2", null),
      member("node3", null),
    ]);
    expect(noQuorum.health).toBe("unavailable");
    expect(noQuorum.problems[0]).toBe("only 1 of 3 voters answer; 2 are needed for a majority");

    const noLeader = buildClusterView("a", [
      member("node1", self({ role: "candidate", leader: null })),
      member("node2", self({ leader: null })),
    ]);
    expect(noLeader.health).toBe("unavailable");
    expect(noLeader.leader).toBeNull();
    expect(noLeader.members.map((m) => m.health)).toEqual(["no-leader", "no-leader"]);
    expect(noLeader.members[0]!.lag).toBeNull();
  });

  test("stale contact and large lag are flagged", () => {
    const v = buildClusterView("a", [
      member(
        "node1",
        leaderSelf(
          [
            { id: "node2", match: 5000, lastContactMs: 4000 },
            { id: "node3", match: 100, lastContactMs: 50 },
          ],
          { lastIndex: 5000 },
        ),
      ),
      member("node2", self()),
      member("node3", self()),
    ]);
    expect(v.members.map((m) => m.health)).toEqual(["ok", "stale", "lagging"]);
    expect(v.health).toBe("degraded");
    expect(v.problems).toEqual([
      "node2: the leader has not heard from it for 4.0s",
      "node3 is 4900 entries behind the leader",
    ]);
  });

  test("two members claiming leadership: the higher term wins", () => {
    const v = buildClusterView("a", [
      member("node1", leaderSelf([], { term: 2 })),
      member("node2", leaderSelf([], { term: 5 })),
    ]);
    expect(v.leader).toBe("node2");
    expect(v.term).toBe(5);
  });
});

describe("CLUSTER_JSON", () => {
  const status = {
    node: "node1",
    role: "leader",
    term: 4,
    leader: "node1",
    commit: 9,
    applied: 9,
    lastIndex: 9,
    files: 1,
    bytes: 5,
    adminAddress: "127.0.0.1:9001",
    progress: [
      { id: "node2", address: "x", voter: true, match: 7, next: 8, state: "replicate", ticksSinceContact: 3 },
    ],
  } as unknown as NodeStatus;

  test("parses members; ticks since contact become milliseconds (50 ms ticks unless tickMs says otherwise)", () => {
    const members = parseClusterJson(
      JSON.stringify({
        members: [
          { id: "node1", voter: true, address: "127.0.0.1:8001", status, error: null },
          { id: "node2", voter: false, address: "127.0.0.1:8002", status: null, error: "timeout" },
        ],
      }),
    );
    expect(members[0]!.self!.progress).toEqual([{ id: "node2", match: 7, lastContactMs: 150 }]);
    expect(members[1]).toEqual({
      id: "node2",
      voter: false,
      address: "127.0.0.1:8002",
      self: null,
      error: "timeout",
    });
    expect(selfFromNodeStatus({ ...status, tickMs: 10 } as NodeStatus).progress[0]!.lastContactMs).toBe(30);
  });

  test("rejects a reply without members", () => {
    expect(() => parseClusterJson("{}")).toThrow("no members array");
  });
});

describe("formatting", () => {
  test("table has a header and one aligned row per member; unknown values print as -", () => {
    const v = buildClusterView("127.0.0.1:9001", [
      member("node1", leaderSelf([{ id: "node2", match: 10, lastContactMs: 40 }])),
      member("node2", self()),
      member("node3", null, false, "refused"),
    ]);
    const table = formatMemberTable(v.members).split("\n");
    expect(table[0]).toMatch(
      /^NODE +ROLE +MEMBER +RAFT +ADMIN +TERM +COMMIT +APPLIED +LAST +MATCH +LAG +CONTACT +FILES +HEALTH$/,
    );
    expect(table[1]).toMatch(
      /^node1 +leader +voter +127\.0\.0\.1:8001 +127\.0\.0\.1:9001 +3 +10 +10 +10 +10 +0 +0ms +2 +ok$/,
    );
    expect(table[3]).toMatch(/^node3 +- +learner +127\.0\.0\.1:8003 +- +- +- +- +- +- +- +- +- +down$/);
    // Columns line up: every row's health starts under the HEALTH title.
    const col = table[0]!.indexOf("HEALTH");
    expect(table.slice(1).map((l) => l.slice(col))).toEqual(["ok", "ok", "down"]);
    const text = formatClusterView(v);
    expect(text).toContain("Cluster status via 127.0.0.1:9001");
    expect(text).toContain("⚠️  degraded: leader node1 (term 3) · 2 voters (2 up, quorum 2) · 1 learner");
    expect(text).toContain("Problems:\n  - node3 does not answer: refused");
  });

  test("formatMs", () => {
    expect([formatMs(null), formatMs(0), formatMs(850), formatMs(3210), formatMs(125_000)]).toEqual([
      "-",
      "0ms",
      "850ms",
      "3.2s",
      "2m05s",
    ]);
  });
});
