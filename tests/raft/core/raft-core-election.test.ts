import { describe, expect, test } from "bun:test";
import { bootstrapState, RaftCore } from "../../../src/raft/core/raft-core.ts";
import { emptyMessage, type Message } from "../../../src/raft/types.ts";
import { config, TestNetwork } from "./test-network.ts";

describe("leader election", () => {
  test("a single bootstrapped node elects itself on its first election timeout", () => {
    const core = new RaftCore(config("a"), bootstrapState("a", "127.0.0.1:8001"));
    expect(core.status().confState.voters).toEqual(["a"]);
    expect(core.status().role).toBe("follower");
    for (let i = 0; i < 20 && core.status().role !== "leader"; i++) core.tick();
    const st = core.status();
    expect(st.role).toBe("leader");
    expect(st.term).toBe(2);
    expect(st.leader).toBe("a");
    // The new leader's empty entry commits at once with a single voter.
    expect(st.lastIndex).toBe(2);
    expect(st.commit).toBe(2);
  });

  test("election timeouts are randomised in [electionTick, 2*electionTick)", () => {
    const ticksToCampaign = (r: number): number => {
      const core = new RaftCore(config("a", { random: () => r }), bootstrapState("a", "x"));
      let n = 0;
      while (core.status().role !== "leader") {
        core.tick();
        n++;
        if (n > 100) throw new Error("never campaigned");
      }
      return n;
    };
    expect(ticksToCampaign(0)).toBe(10);
    expect(ticksToCampaign(0.5)).toBe(15);
    expect(ticksToCampaign(0.9999)).toBe(19);
  });

  test("three nodes elect exactly one leader and agree on it", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.tickAll(25);
    const leaders = net.leaderIds();
    expect(leaders.length).toBe(1);
    const leader = leaders[0]!;
    for (const id of ["a", "b", "c"]) {
      expect(net.node(id).status().leader).toBe(leader);
      expect(net.node(id).status().term).toBe(net.node(leader).status().term);
    }
  });

  test("campaign() makes a node leader; the vote is in the hard state of the Ready that sends the grant", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    expect(net.leaderIds()).toEqual(["a"]);
    expect(net.node("a").status().term).toBe(2);
    for (const { id, rd } of net.readies) {
      for (const m of rd.messages) {
        if (m.type === "voteResp" && !m.reject) {
          expect(rd.hardState).not.toBeNull();
          expect(rd.hardState!.vote).toBe(m.to);
          expect(rd.hardState!.term).toBe(m.term);
          expect(net.storage.get(id)!.hardState.term).toBeGreaterThanOrEqual(m.term);
        }
      }
    }
    expect(net.storage.get("b")!.hardState.vote).toBe("a");
  });

  test("a node votes at most once per term", () => {
    const b = new RaftCore(config("b"), new TestNetwork(["a", "b", "c"]).storage.get("b")!.restoreState());
    const vote = (from: string): Message => {
      const m = emptyMessage("vote", from, "b", 5);
      m.index = 3;
      m.logTerm = 1;
      return m;
    };
    b.step(vote("a"));
    b.step(vote("c"));
    b.step(vote("a")); // a retransmitted request is granted again
    const resps = b.ready().messages;
    expect(resps.map((m) => [m.to, m.reject])).toEqual([
      ["a", false],
      ["c", true],
      ["a", false],
    ]);
    expect(b.status().vote).toBe("a");
  });

  test("vote restriction: a candidate with a less up-to-date log gets no votes", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.node("a").propose(new TextEncoder().encode("x"));
    // c never hears about "x".
    net.isolate("c");
    net.stabilize();
    net.heal();
    const before = net.node("a").status().term;
    net.elect("c");
    expect(net.node("c").status().role).not.toBe("leader");
    const grants = net.messagesOfType("voteResp").filter((m) => m.to === "c" && !m.reject);
    expect(grants.length).toBe(0);
    // b or a can still become leader later, with x kept.
    net.elect("b");
    expect(net.leaderIds()).toEqual(["b"]);
    expect(net.node("b").status().term).toBeGreaterThan(before);
    net.stabilize();
    expect(net.applied.get("c")).toEqual(["x"]);
  });

  test("a candidate that loses (a majority rejects) returns to follower", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.node("a").propose(new TextEncoder().encode("x"));
    net.isolate("c");
    net.stabilize();
    net.heal();
    net.node("c").campaign();
    net.stabilize();
    expect(net.node("c").status().role).toBe("follower");
  });

  test("higher-term messages turn a leader into a follower; lower-term messages are ignored", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    const a = net.node("a");
    const term = a.status().term;
    const stale = emptyMessage("app", "b", "a", term - 1);
    a.step(stale);
    expect(a.status().role).toBe("leader");
    expect(a.ready().messages.length).toBe(0);
    a.step(emptyMessage("heartbeatResp", "c", "a", term + 3));
    expect(a.status().role).toBe("follower");
    expect(a.status().term).toBe(term + 3);
    expect(a.status().leader).toBeNull();
  });

  test("messages addressed to another node are ignored", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    const b = net.node("b");
    b.step(emptyMessage("app", "a", "c", 9));
    expect(b.status().term).toBe(1);
  });

  test("an old leader that learns a newer term via a response steps down", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.isolate("a");
    net.elect("b");
    expect(net.node("b").status().term).toBe(3);
    net.heal();
    net.node("a").propose(new TextEncoder().encode("lost"));
    net.stabilize();
    // Without CheckQuorum/PreVote b and c ignore a's stale appends; b's heartbeats carry term 3.
    net.tickAll(3);
    expect(net.leaderIds()).toEqual(["b"]);
    expect(net.node("a").status().term).toBe(3);
    expect(net.applied.get("a")).not.toContain("lost");
  });
});
