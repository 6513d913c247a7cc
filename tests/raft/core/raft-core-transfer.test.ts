import { describe, expect, test } from "bun:test";
import { bytes, TestNetwork } from "./test-network.ts";

const opts = { preVote: true, checkQuorum: true };

describe("leadership transfer", () => {
  test("an up-to-date target gets timeoutNow and wins despite leader stickiness", () => {
    const net = new TestNetwork(["a", "b", "c"], opts);
    net.elect("a");
    net.tickAll(2);
    net.node("a").transferLeadership("b");
    net.stabilize();
    expect(net.leaderIds()).toEqual(["b"]);
    expect(net.node("b").status().term).toBe(3);
    expect(net.node("a").status().leader).toBe("b");
    expect(net.messagesOfType("timeoutNow", "a").map((m) => m.to)).toEqual(["b"]);
    // The target skipped PreVote and flagged its votes as a transfer.
    const votes = net.messagesOfType("vote", "b");
    expect(votes.length).toBe(2);
    expect(votes.every((m) => m.transfer)).toBe(true);
    expect(net.messagesOfType("preVote", "b")).toEqual([]);
  });

  test("a lagging target is caught up first; proposals are refused meanwhile", () => {
    const net = new TestNetwork(["a", "b", "c"], opts);
    net.elect("a");
    net.isolate("c");
    for (let i = 0; i < 10; i++) net.node("a").propose(bytes(`x${i}`));
    net.stabilize();
    const a = net.node("a");
    a.transferLeadership("c");
    expect(a.status().leadTransferee).toBe("c");
    expect(a.propose(bytes("no"))).toEqual({ ok: false, reason: "transfer-in-progress", leader: "a" });
    expect(a.proposeConfChange({ type: "remove", nodeId: "b" })).toEqual({
      ok: false,
      reason: "transfer-in-progress",
      leader: "a",
    });
    expect(net.messagesOfType("timeoutNow")).toEqual([]);
    net.heal();
    net.tickAll(4);
    expect(net.leaderIds()).toEqual(["c"]);
    expect(net.applied.get("c")).toEqual(Array.from({ length: 10 }, (_, i) => `x${i}`));
    net.node("c").propose(bytes("after"));
    net.stabilize();
    expect(net.applied.get("a")!.at(-1)).toBe("after");
  });

  test("a transfer that does not finish within an election timeout is aborted", () => {
    const net = new TestNetwork(["a", "b", "c"], opts);
    net.elect("a");
    net.isolate("c");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.node("a").transferLeadership("c");
    expect(net.node("a").propose(bytes("y")).ok).toBe(false);
    net.tickAll(10);
    const st = net.node("a").status();
    expect(st.role).toBe("leader");
    expect(st.leadTransferee).toBeNull();
    expect(net.node("a").propose(bytes("z")).ok).toBe(true);
  });

  test("transfer to self, to a learner or to a stranger is ignored; followers ignore the call", () => {
    const net = new TestNetwork(["a", "b", "c"], opts);
    net.elect("a");
    net.addEmptyNode("d");
    net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" });
    net.stabilize();
    const a = net.node("a");
    for (const to of ["a", "d", "zz"]) {
      a.transferLeadership(to);
      expect(a.status().leadTransferee).toBeNull();
    }
    net.node("b").transferLeadership("c");
    net.stabilize();
    expect(net.leaderIds()).toEqual(["a"]);
  });

  test("a second transfer to another node replaces the first", () => {
    const net = new TestNetwork(["a", "b", "c"], opts);
    net.elect("a");
    net.isolate("c");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.node("a").transferLeadership("c");
    net.node("a").transferLeadership("b");
    net.stabilize();
    expect(net.leaderIds()).toEqual(["b"]);
  });
});
