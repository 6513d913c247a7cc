import { describe, expect, test } from "bun:test";
import { headerModel } from "../../../tui/model/header-model.ts";
import { compareIds, peersModel } from "../../../tui/model/peers-model.ts";
import { initialState, withCluster, withClusterError } from "../../../tui/model/tui-state.ts";
import { leaderOf3, member, nodeStatus, threeHealthy } from "../fixtures.ts";

describe("peersModel", () => {
  test("match, lag and last contact come from the leader's progress", () => {
    const leader = leaderOf3({ lastIndex: 20 });
    leader.progress[1]!.match = 15;
    leader.progress[2]!.ticksSinceContact = 40; // 2 s at 50 ms ticks
    const s = withCluster(
      initialState("attach", "t"),
      [member("node3", nodeStatus("node3")), member("node1", leader), member("node2", nodeStatus("node2"))],
      "node2",
      "t",
      1,
    );
    const rows = peersModel(s, { tickMs: 50 });
    expect(rows.map((r) => r.id)).toEqual(["node1", "node2", "node3"]);
    expect(rows.map((r) => [r.match, r.lag, r.contact])).toEqual([
      ["20", "0", "self"],
      ["15", "5", "50ms"],
      ["10", "10", "2.0s"],
    ]);
    expect(rows.map((r) => r.health)).toEqual(["ok", "lagging", "slow"]);
    expect(rows.map((r) => r.isSelf)).toEqual([false, true, false]);
  });

  test("a down member says so with its error; a catching-up member has a progress fraction", () => {
    const s0 = withCluster(
      initialState("attach", "t"),
      [
        member("node1", leaderOf3({ commit: 100 })),
        member("node2", nodeStatus("node2", { applied: 20 })),
        member("node3", null),
      ],
      "node1",
      "t",
      1,
    );
    const s = withCluster(
      s0,
      [
        member("node1", leaderOf3({ commit: 100 })),
        member("node2", nodeStatus("node2", { applied: 60, pendingChanges: 2 })),
        member("node3", null),
      ],
      "node1",
      "t",
      2,
    );
    const [, n2, n3] = peersModel(s);
    expect(n2!.health).toBe("catching-up");
    expect(n2!.progress).toBeCloseTo(0.5);
    expect(n2!.note).toBe("2 local changes queued");
    expect(n3!.health).toBe("down");
    expect(n3!.role).toBe("down");
    expect(n3!.note).toBe("connection refused");
  });

  test("ids sort naturally", () => {
    expect(["node10", "node2", "node1"].sort(compareIds)).toEqual(["node1", "node2", "node10"]);
  });
});

describe("headerModel", () => {
  test("summarises the cluster through this node, with uptime moving between polls", () => {
    const s = withCluster(
      initialState("attach", "admin 127.0.0.1:9002"),
      threeHealthy(),
      "node2",
      "admin 127.0.0.1:9002",
      10_000,
    );
    const h = headerModel(s, 12_000);
    expect(h).toMatchObject({
      cluster: "3 members: 3 voters",
      self: "node2",
      role: "Follower",
      term: "2",
      leader: "node1",
      indexes: "commit 10 · applied 10",
      uptime: "1m07s",
      warning: null,
    });
  });

  test("warns while connecting, on errors, and when the status is stale", () => {
    const s0 = initialState("attach", "admin x:1");
    expect(headerModel(s0, 0).warning).toBe("connecting (admin x:1)…");
    const s1 = withCluster(s0, threeHealthy(), "node1", "admin x:1", 1000);
    expect(headerModel(s1, 7000).warning).toBe("no cluster status for 6.0s");
    expect(headerModel(withClusterError(s1, "no member answers", 2000), 2000).warning).toBe(
      "no member answers",
    );
  });
});
