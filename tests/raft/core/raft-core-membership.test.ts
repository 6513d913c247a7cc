import { describe, expect, test } from "bun:test";
import type { ProposeResult } from "../../../src/raft/types.ts";
import { bytes, TestNetwork } from "./test-network.ts";

/** a alone, elected, with its no-op committed. */
function single(): TestNetwork {
  const net = new TestNetwork(["a"]);
  net.elect("a");
  net.stabilize();
  return net;
}

function mustOk(r: { ok: boolean }): void {
  if (!r.ok) throw new Error(`refused: ${JSON.stringify(r)}`);
}

describe("membership changes", () => {
  test("a fresh node with an empty configuration never campaigns", () => {
    const net = single();
    const b = net.addEmptyNode("b");
    for (let i = 0; i < 100; i++) b.tick();
    expect(b.status().role).toBe("follower");
    expect(b.status().term).toBe(0);
    expect(b.hasReady()).toBe(false);
  });

  test("addVoter: the new node receives the log and the change applies on commit", () => {
    const net = single();
    const a = net.node("a");
    a.propose(bytes("before"));
    net.stabilize();
    net.addEmptyNode("b");
    const r = a.proposeConfChange({ type: "addVoter", nodeId: "b", address: "addr-b" });
    mustOk(r);
    // Not applied until committed (here: committed at once, single voter).
    expect(a.status().confState.voters).toEqual(["a", "b"]);
    net.stabilize();
    net.tickAll(3);
    const b = net.node("b");
    expect(b.status().confState).toEqual({
      voters: ["a", "b"],
      learners: [],
      addresses: { a: "addr-a", b: "addr-b" },
    });
    expect(net.applied.get("b")).toEqual(["before"]);
    // Now quorum is 2 of 2.
    net.isolate("b");
    a.propose(bytes("needs-b"));
    net.stabilize();
    expect(net.applied.get("a")).toEqual(["before"]);
    net.heal();
    net.tickAll(3);
    expect(net.applied.get("a")).toEqual(["before", "needs-b"]);
  });

  test("a conf change takes effect on commit, not on append", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.addEmptyNode("d");
    net.isolate("b");
    net.isolate("c");
    mustOk(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" }));
    net.stabilize();
    expect(net.node("a").status().confState.learners).toEqual([]);
    net.heal();
    net.tickAll(3);
    expect(net.node("a").status().confState.learners).toEqual(["d"]);
    expect(net.node("b").status().confState.learners).toEqual(["d"]);
  });

  test("only one uncommitted conf change at a time", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.isolate("b");
    net.isolate("c");
    mustOk(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" }));
    expect(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "e", address: "addr-e" })).toEqual({
      ok: false,
      reason: "conf-change-pending",
      leader: "a",
    });
    net.heal();
    net.tickAll(3);
    mustOk(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "e", address: "addr-e" }));
  });

  test("no conf change before the leader commits an entry of its term", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.isolate("b");
    net.isolate("c");
    net.node("a").campaign();
    net.heal();
    // Deliver the votes but not yet the leader's first append.
    net.processReady("a");
    net.deliverAll();
    net.processReady("b");
    net.processReady("c");
    net.deliverAll();
    expect(net.node("a").status().role).toBe("leader");
    expect(net.node("a").status().commit).toBe(3);
    const r = net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" });
    expect(r).toEqual({ ok: false, reason: "conf-change-pending", leader: "a" });
    net.stabilize();
    mustOk(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" }));
  });

  test("invalid conf changes are refused", () => {
    const net = single();
    const a = net.node("a");
    const invalid: ProposeResult = { ok: false, reason: "invalid", leader: "a" };
    expect(a.proposeConfChange({ type: "addVoter", nodeId: "a", address: "x" })).toEqual(invalid);
    expect(a.proposeConfChange({ type: "addVoter", nodeId: "b" })).toEqual(invalid);
    expect(a.proposeConfChange({ type: "remove", nodeId: "zz" })).toEqual(invalid);
    expect(a.proposeConfChange({ type: "remove", nodeId: "a" })).toEqual(invalid);
    expect(a.proposeConfChange({ type: "promote", nodeId: "a" })).toEqual(invalid);
    expect(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "" })).toEqual(invalid);
    const f = new TestNetwork(["a", "b", "c"]);
    f.elect("a");
    expect(f.node("b").proposeConfChange({ type: "addLearner", nodeId: "d", address: "x" })).toEqual({
      ok: false,
      reason: "not-leader",
      leader: "a",
    });
  });

  test("learners get the log but neither vote, count for quorum, nor campaign", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.addEmptyNode("d");
    mustOk(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" }));
    net.stabilize();
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.tickAll(2);
    expect(net.applied.get("d")).toEqual(["x"]);
    expect(net.node("d").status().confState.learners).toEqual(["d"]);
    const pd = net
      .node("a")
      .status()
      .progress.find((p) => p.id === "d")!;
    expect(pd.voter).toBe(false);
    expect(pd.address).toBe("addr-d");

    // b and c unreachable: a and learner d are not a quorum.
    net.isolate("b");
    net.isolate("c");
    const commit = net.node("a").status().commit;
    net.node("a").propose(bytes("y"));
    net.stabilize();
    expect(net.node("a").status().commit).toBe(commit);
    expect(net.node("d").status().lastIndex).toBe(commit + 1);

    // Elections ignore the learner.
    net.heal();
    net.tickAll(2);
    net.node("b").campaign();
    net.stabilize();
    expect(net.messagesOfType("vote").some((m) => m.to === "d")).toBe(false);
    net.isolate("d");
    for (let i = 0; i < 100; i++) net.node("d").tick();
    expect(net.node("d").status().role).toBe("follower");
    expect(net.messagesOfType("vote", "d")).toEqual([]);
    expect(net.messagesOfType("preVote", "d")).toEqual([]);
  });

  test("promote turns a learner into a voter that counts for quorum", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.addEmptyNode("d");
    mustOk(net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" }));
    net.stabilize();
    mustOk(net.node("a").proposeConfChange({ type: "promote", nodeId: "d" }));
    net.stabilize();
    net.tickAll(2);
    for (const id of ["a", "b", "c", "d"]) {
      expect(net.node(id).status().confState.voters).toEqual(["a", "b", "c", "d"]);
      expect(net.node(id).status().confState.learners).toEqual([]);
      expect(net.node(id).status().confState.addresses.d).toBe("addr-d");
    }
    // 4 voters: quorum is 3. a + d are not enough, a + b + d are.
    net.isolate("b");
    net.isolate("c");
    const commit = net.node("a").status().commit;
    net.node("a").propose(bytes("q"));
    net.stabilize();
    expect(net.node("a").status().commit).toBe(commit);
    net.heal();
    net.isolate("c");
    net.tickAll(3);
    expect(net.node("a").status().commit).toBe(commit + 1);
  });

  test("remove: the removed node stops campaigning and the quorum shrinks", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    mustOk(net.node("a").proposeConfChange({ type: "remove", nodeId: "c" }));
    net.stabilize();
    net.tickAll(2);
    for (const id of ["a", "b", "c"]) {
      const cs = net.node(id).status().confState;
      expect(cs.voters).toEqual(["a", "b"]);
      expect(cs.addresses.c).toBeUndefined();
    }
    expect(
      net
        .node("a")
        .status()
        .progress.map((p) => p.id),
    ).toEqual(["a", "b"]);
    net.isolate("c");
    for (let i = 0; i < 100; i++) net.node("c").tick();
    expect(net.node("c").hasReady() && net.node("c").ready().messages.length > 0).toBe(false);
    expect(net.node("c").status().role).toBe("follower");
    // Quorum is now 2 of {a, b}.
    net.node("a").propose(bytes("two"));
    net.stabilize();
    expect(net.applied.get("b")).toEqual(["two"]);
  });

  test("a leader that removes itself steps down after commit and the rest elect a new leader", () => {
    const net = new TestNetwork(["a", "b", "c"], { preVote: true, checkQuorum: true });
    net.elect("a");
    mustOk(net.node("a").proposeConfChange({ type: "remove", nodeId: "a" }));
    net.stabilize();
    expect(net.node("a").status().role).toBe("follower");
    expect(net.node("a").status().confState.voters).toEqual(["b", "c"]);
    expect(net.node("b").status().confState.voters).toEqual(["b", "c"]);
    net.tickAll(40);
    const leaders = net.leaderIds();
    expect(leaders.length).toBe(1);
    expect(leaders[0]).not.toBe("a");
    net.node(leaders[0]!).propose(bytes("after"));
    net.stabilize();
    expect(net.applied.get("b")).toContain("after");
    expect(net.applied.get("c")).toContain("after");
  });

  test("a newly added voter on restart keeps its configuration", () => {
    const net = single();
    net.addEmptyNode("b");
    mustOk(net.node("a").proposeConfChange({ type: "addVoter", nodeId: "b", address: "addr-b" }));
    net.stabilize();
    net.tickAll(2);
    net.crash("b");
    const b = net.start("b");
    expect(b.status().confState.voters).toEqual(["a", "b"]);
    net.crash("a");
    net.start("a");
    net.tickAll(40);
    expect(net.leaderIds().length).toBe(1);
  });
});
