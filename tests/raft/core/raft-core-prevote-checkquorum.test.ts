import { describe, expect, test } from "bun:test";
import { emptyMessage } from "../../../src/raft/types.ts";
import { bytes, TestNetwork } from "./test-network.ts";

describe("PreVote", () => {
  test("an election with PreVote bumps the term once and elects a leader", () => {
    const net = new TestNetwork(["a", "b", "c"], { preVote: true });
    net.elect("a");
    expect(net.leaderIds()).toEqual(["a"]);
    expect(net.node("a").status().term).toBe(2);
    expect(net.messagesOfType("preVote", "a").map((m) => m.term)).toEqual([2, 2]);
    expect(net.messagesOfType("vote", "a").length).toBe(2);
  });

  test("granting a pre-vote changes neither the voter's term nor its vote", () => {
    const net = new TestNetwork(["a", "b", "c"], { preVote: true });
    const b = net.node("b");
    const m = emptyMessage("preVote", "a", "b", 2);
    m.index = 3;
    m.logTerm = 1;
    b.step(m);
    const rd = b.ready();
    expect(rd.messages.map((x) => [x.type, x.term, x.reject])).toEqual([["preVoteResp", 2, false]]);
    expect(rd.hardState).toBeNull();
    expect(b.status().term).toBe(1);
    expect(b.status().vote).toBeNull();
  });

  test("a partitioned node that comes back does not bump terms or depose the leader", () => {
    const net = new TestNetwork(["a", "b", "c"], { preVote: true, checkQuorum: true });
    net.elect("a");
    const term = net.node("a").status().term;
    net.isolate("c");
    net.tickAll(100); // c keeps timing out, but only pre-campaigns
    expect(net.node("c").status().term).toBe(term);
    expect(net.node("c").status().role).toBe("preCandidate");
    net.heal();
    net.tickAll(30);
    expect(net.leaderIds()).toEqual(["a"]);
    for (const id of ["a", "b", "c"]) expect(net.node(id).status().term).toBe(term);
    expect(net.node("c").status().leader).toBe("a");
  });

  test("without PreVote the same partition disrupts the cluster (control)", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    const term = net.node("a").status().term;
    net.isolate("c");
    net.tickAll(100);
    expect(net.node("c").status().term).toBeGreaterThan(term + 3);
    net.heal();
    net.tickAll(30);
    expect(net.node("a").status().term).toBeGreaterThan(term + 3);
  });

  test("a pre-candidate whose log is behind gets no pre-votes", () => {
    const net = new TestNetwork(["a", "b", "c"], { preVote: true });
    net.elect("a");
    net.isolate("c");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.heal();
    net.crash("a");
    net.elect("c");
    expect(net.node("c").status().role).not.toBe("leader");
    expect(net.node("c").status().term).toBe(2);
    expect(net.messagesOfType("preVoteResp").filter((m) => m.to === "c" && !m.reject)).toEqual([]);
    net.elect("b");
    expect(net.node("b").status().role).toBe("leader");
  });

  test("a stale pre-vote (lower term) is answered with a rejection carrying the current term", () => {
    const net = new TestNetwork(["a", "b", "c"], { preVote: true });
    net.elect("a");
    const b = net.node("b");
    b.ready();
    b.step(emptyMessage("preVote", "c", "b", 1));
    const resp = b.ready().messages;
    expect(resp.map((m) => [m.type, m.term, m.reject])).toEqual([["preVoteResp", 2, true]]);
  });
});

describe("CheckQuorum", () => {
  test("a leader that hears from no quorum for an election timeout steps down", () => {
    const net = new TestNetwork(["a", "b", "c"], { checkQuorum: true, preVote: true });
    net.elect("a");
    net.isolate("a");
    let ticks = 0;
    while (net.node("a").status().role === "leader" && ticks < 100) {
      net.tick("a");
      ticks++;
    }
    expect(net.node("a").status().role).toBe("follower");
    expect(ticks).toBeLessThanOrEqual(20); // at most two CheckQuorum rounds
    expect(net.node("a").status().leader).toBeNull();
  });

  test("a leader in contact with a quorum stays leader", () => {
    const net = new TestNetwork(["a", "b", "c"], { checkQuorum: true, preVote: true });
    net.elect("a");
    net.isolate("c");
    net.tickAll(60);
    expect(net.node("a").status().role).toBe("leader");
  });

  test("leader stickiness: a follower in lease ignores a higher-term vote request", () => {
    const net = new TestNetwork(["a", "b", "c"], { checkQuorum: true });
    net.elect("a");
    const b = net.node("b");
    b.ready();
    const v = emptyMessage("vote", "c", "b", 9);
    v.index = 100;
    v.logTerm = 9;
    b.step(v);
    expect(b.status().term).toBe(2);
    expect(b.status().leader).toBe("a");
    expect(b.ready().messages).toEqual([]);
  });

  test("leader stickiness does not apply to a transfer vote", () => {
    const net = new TestNetwork(["a", "b", "c"], { checkQuorum: true });
    net.elect("a");
    const b = net.node("b");
    b.ready();
    const v = emptyMessage("vote", "c", "b", 3);
    v.index = 100;
    v.logTerm = 2;
    v.transfer = true;
    b.step(v);
    expect(b.status().term).toBe(3);
    expect(b.status().vote).toBe("c");
    expect(b.ready().messages.map((m) => [m.type, m.reject])).toEqual([["voteResp", false]]);
  });

  test("once the lease expires, a follower grants (pre)votes again", () => {
    const net = new TestNetwork(["a", "b", "c"], { checkQuorum: true, preVote: true });
    net.elect("a");
    net.crash("a");
    net.tickAll(30);
    const leaders = net.leaderIds();
    expect(leaders.length).toBe(1);
    expect(leaders[0]).not.toBe("a");
    expect(net.node(leaders[0]!).status().term).toBe(3);
  });

  test("a stale leader is told the newer term when its append is rejected as stale", () => {
    const net = new TestNetwork(["a", "b", "c"], { checkQuorum: true, preVote: true });
    net.elect("a");
    net.isolate("a");
    net.tickAll(12); // a steps down through CheckQuorum; b or c will lead later
    net.elect("b");
    expect(net.node("b").status().term).toBe(3);
    const b = net.node("b");
    b.ready();
    b.step(emptyMessage("app", "a", "b", 2));
    expect(b.ready().messages.map((m) => [m.type, m.term, m.to])).toEqual([["appResp", 3, "a"]]);
  });
});
