import { describe, expect, test } from "bun:test";
import { RaftCore } from "../../../src/raft/core/raft-core.ts";
import { type Entry, emptyMessage, type RestoreState } from "../../../src/raft/types.ts";
import { bytes, TestNetwork } from "./test-network.ts";

function proposeAll(net: TestNetwork, leader: string, items: string[]): void {
  for (const s of items) {
    const r = net.node(leader).propose(bytes(s));
    if (!r.ok) throw new Error(`propose failed: ${r.reason}`);
  }
}

describe("log replication and commit", () => {
  test("proposals replicate and apply in order on every node", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    const items = Array.from({ length: 50 }, (_, i) => `v${i}`);
    proposeAll(net, "a", items);
    net.stabilize();
    for (const id of ["a", "b", "c"]) {
      expect(net.applied.get(id)).toEqual(items);
      const st = net.node(id).status();
      expect(st.commit).toBe(st.lastIndex);
      expect(st.applied).toBe(st.commit);
    }
  });

  test("propose returns index and term; followers refuse with the leader's id", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    const r = net.node("a").propose(bytes("x"));
    expect(r).toEqual({ ok: true, index: 5, term: 2 });
    expect(net.node("b").propose(bytes("y"))).toEqual({ ok: false, reason: "not-leader", leader: "a" });
  });

  test("the new leader appends an empty entry of its term", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("b");
    const st = net.node("b").status();
    expect(st.lastIndex).toBe(4);
    const appended = net.readies.filter((r) => r.id === "b").flatMap((r) => r.rd.entries);
    expect(appended).toEqual([{ index: 4, term: 2, type: 0, data: new Uint8Array(0) }]);
    expect(st.commit).toBe(4);
  });

  test("an entry is not committed without a quorum", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.isolate("b");
    net.isolate("c");
    const r = net.node("a").propose(bytes("x"));
    net.stabilize();
    expect(r.ok).toBe(true);
    expect(net.node("a").status().commit).toBe(4);
    net.heal();
    net.tickAll(3); // heartbeats re-establish contact
    expect(net.node("a").status().commit).toBe(5);
    expect(net.applied.get("c")).toEqual(["x"]);
  });

  test("the commit rule never counts replicas of a previous-term entry (canCommit)", () => {
    // Leader 'a' of term 3 holds index 5 from term 2 (replicated to b) plus its own no-op 6.
    const t2: Entry = { term: 2, index: 5, type: 0, data: bytes("old") };
    const makeCore = (Core: typeof RaftCore): RaftCore => {
      const net = new TestNetwork(["a", "b", "c"]);
      const st = net.storage.get("a")!;
      const rs: RestoreState = {
        hardState: { term: 2, vote: "a", commit: 3 },
        snapshot: st.snapshot,
        entries: [...st.entries, { term: 2, index: 4, type: 0, data: new Uint8Array(0) }, t2],
      };
      const core = new Core(net.configFor("a"), rs);
      core.campaign();
      core.step(emptyMessage("voteResp", "b", "a", 3));
      expect(core.status().role).toBe("leader");
      core.ready();
      const resp = emptyMessage("appResp", "b", "a", 3);
      resp.index = 5; // b stores index 5 (term 2) but not the term-3 no-op yet
      core.step(resp);
      return core;
    };
    const good = makeCore(RaftCore);
    expect(good.status().commit).toBe(3);

    class Broken extends RaftCore {
      protected override canCommit(): boolean {
        return true;
      }
    }
    expect(makeCore(Broken).status().commit).toBe(5);
  });

  test("a follower with a divergent uncommitted suffix is repaired with few round trips", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    proposeAll(net, "a", ["base"]);
    net.stabilize();
    net.isolate("a");
    // 100 entries of term 2 that only a stores (indexes 6..105).
    proposeAll(
      net,
      "a",
      Array.from({ length: 100 }, (_, i) => `lost${i}`),
    );
    net.stabilize();
    net.elect("b");
    const fresh = Array.from({ length: 200 }, (_, i) => `n${i}`);
    proposeAll(net, "b", fresh);
    net.stabilize();
    // A third leader starts with next = its lastIndex + 1 for a: far beyond a's divergent suffix.
    net.elect("c");
    expect(net.leaderIds()).toEqual(["a", "c"]); // a still believes it leads term 2
    net.heal();
    const rejectsBefore = net.messagesOfType("appResp", "a").filter((m) => m.reject).length;
    net.tickAll(3);
    const rejects = net.messagesOfType("appResp", "a").filter((m) => m.reject).length - rejectsBefore;
    expect(rejects).toBeGreaterThan(0);
    expect(rejects).toBeLessThanOrEqual(2); // findConflictByTerm skips whole terms at once
    for (const id of ["a", "b", "c"]) expect(net.applied.get(id)).toEqual(["base", ...fresh]);
    const logs = ["a", "b", "c"].map((id) => net.storage.get(id)!.entries.map((e) => `${e.index}/${e.term}`));
    expect(logs[0]).toEqual(logs[1]!);
    expect(logs[1]).toEqual(logs[2]!);
  });

  test("a follower that missed many entries catches up", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.isolate("c");
    const items = Array.from({ length: 300 }, (_, i) => `e${i}`);
    proposeAll(net, "a", items);
    net.stabilize();
    expect(net.applied.get("c")).toEqual([]);
    net.heal();
    net.tickAll(3);
    expect(net.applied.get("c")).toEqual(items);
  });

  test("batching: maxSizePerMsg bounds message size but always carries at least one entry", () => {
    const net = new TestNetwork(["a", "b", "c"], { maxSizePerMsg: 100 });
    net.elect("a");
    net.isolate("b");
    proposeAll(net, "a", ["x".repeat(30), "y".repeat(30), "z".repeat(30), "w".repeat(500)]);
    net.stabilize();
    net.heal();
    const from = net.sent.length;
    net.tickAll(3);
    const apps = net.sent.slice(from).filter((m) => m.type === "app" && m.to === "b" && m.entries.length > 0);
    for (const m of apps) {
      const size = m.entries.reduce((n, e) => n + e.data.length + 24, 0);
      expect(m.entries.length === 1 || size <= 100).toBe(true);
    }
    expect(apps.some((m) => m.entries.some((e) => e.data.length === 500))).toBe(true);
    expect(net.applied.get("b")!.length).toBe(4);
  });

  test("pipelining: in replicate state the leader keeps up to maxInflightMsgs appends in flight", () => {
    const net = new TestNetwork(["a", "b", "c"], { maxInflightMsgs: 3 });
    net.elect("a");
    const a = net.node("a");
    // Propose one at a time, flushing messages without delivering them.
    net.filter = () => false;
    for (let i = 0; i < 6; i++) {
      a.propose(bytes(`p${i}`));
      net.processReady("a");
    }
    const toB = net.queue.filter((m) => m.type === "app" && m.to === "b" && m.entries.length > 0);
    expect(toB.length).toBe(3);
    net.filter = null;
    net.queue = [];
    net.tickAll(2);
    expect(net.applied.get("b")).toEqual(["p0", "p1", "p2", "p3", "p4", "p5"]);
  });

  test("proposals made between readies are batched into one append per follower", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    for (let i = 0; i < 64; i++) net.node("a").propose(bytes(`c${i}`));
    const rd = net.node("a").ready();
    const apps = rd.messages.filter((m) => m.type === "app");
    expect(apps.map((m) => [m.to, m.entries.length])).toEqual([
      ["b", 64],
      ["c", 64],
    ]);
  });

  test("heartbeats carry min(match, commit)", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.isolate("c");
    proposeAll(net, "a", ["x"]);
    net.stabilize();
    const from = net.sent.length;
    net.tick("a", 2);
    net.processReady("a");
    const hbs = net.sent.slice(from).filter((m) => m.type === "heartbeat");
    const commit = net.node("a").status().commit;
    expect(commit).toBe(5);
    expect(hbs.find((m) => m.to === "b")!.commit).toBe(5);
    expect(hbs.find((m) => m.to === "c")!.commit).toBe(4);
  });

  test("lost appends in replicate state are recovered through the heartbeat round", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.filter = (m) => !(m.type === "app" && m.to === "b");
    proposeAll(net, "a", ["x", "y"]);
    net.stabilize();
    expect(net.applied.get("b")).toEqual([]);
    net.filter = null;
    net.tickAll(4);
    expect(net.applied.get("b")).toEqual(["x", "y"]);
    // b told the leader about the gap: the empty append after the heartbeat response was rejected.
    expect(net.messagesOfType("appResp", "b").some((m) => m.reject)).toBe(true);
  });

  test("the leader's progress reports replicate state and match for each peer", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    proposeAll(net, "a", ["x"]);
    net.stabilize();
    const pr = net.node("a").status().progress;
    expect(pr.map((p) => [p.id, p.state, p.match, p.next, p.voter, p.address])).toEqual([
      ["a", "replicate", 5, 6, true, "addr-a"],
      ["b", "replicate", 5, 6, true, "addr-b"],
      ["c", "replicate", 5, 6, true, "addr-c"],
    ]);
    expect(net.node("b").status().progress).toEqual([]);
  });

  test("random delivery order still converges to identical logs", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const net = new TestNetwork(["a", "b", "c", "d", "e"], { seed, shuffle: true });
      net.elect("a");
      proposeAll(
        net,
        "a",
        Array.from({ length: 20 }, (_, i) => `s${i}`),
      );
      net.stabilize();
      net.tickAll(4);
      const want = Array.from({ length: 20 }, (_, i) => `s${i}`);
      for (const id of ["a", "b", "c", "d", "e"]) expect(net.applied.get(id)).toEqual(want);
    }
  });
});
