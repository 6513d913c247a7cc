import { describe, expect, test } from "bun:test";
import { RaftCore } from "../../../src/raft/core/raft-core.ts";
import { bytes, TestNetwork } from "./test-network.ts";

describe("restart", () => {
  test("a restarted follower keeps term, vote and log, re-applies committed entries and catches up", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    for (const s of ["1", "2", "3"]) net.node("a").propose(bytes(s));
    net.stabilize();
    const before = net.node("b").status();
    net.crash("b");
    net.node("a").propose(bytes("4"));
    net.stabilize();
    const b = net.start("b");
    const st = b.status();
    expect(st.term).toBe(before.term);
    expect(st.vote).toBe(before.vote);
    expect(st.lastIndex).toBe(before.lastIndex);
    expect(st.commit).toBe(before.commit);
    expect(st.applied).toBe(0);
    expect(st.confState.voters).toEqual(["a", "b", "c"]);
    net.applied.set("b", []);
    net.tickAll(3);
    expect(net.applied.get("b")).toEqual(["1", "2", "3", "4"]);
  });

  test("a restarted node does not vote twice in the same term", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.crash("b");
    const b = net.start("b");
    expect(b.status().vote).toBe("a");
    const vote = { ...net.messagesOfType("vote", "a")[0]!, from: "c", to: "b" };
    b.step(vote);
    const resp = b.ready().messages.find((m) => m.type === "voteResp")!;
    expect(resp.reject).toBe(true);
  });

  test("a whole cluster restarts and elects a leader that keeps every committed entry", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    for (const s of ["x", "y"]) net.node("a").propose(bytes(s));
    net.stabilize();
    for (const id of ["a", "b", "c"]) net.crash(id);
    for (const id of ["a", "b", "c"]) {
      net.start(id);
      net.applied.set(id, []);
    }
    net.tickAll(25);
    expect(net.leaderIds().length).toBe(1);
    net.node(net.leaderIds()[0]!).propose(bytes("z"));
    net.stabilize();
    for (const id of ["a", "b", "c"]) expect(net.applied.get(id)).toEqual(["x", "y", "z"]);
  });

  test("restart from a compacted state: applied starts at the snapshot index", () => {
    const net = new TestNetwork(["a"]);
    net.elect("a");
    for (const s of ["x", "y", "z"]) net.node("a").propose(bytes(s));
    net.stabilize();
    const a = net.node("a");
    const meta = { index: 4, term: 2, confState: a.status().confState };
    a.compact(meta);
    net.storage.get("a")!.compact(meta);
    net.crash("a");
    const a2 = net.start("a");
    expect(a2.status().firstIndex).toBe(5);
    expect(a2.status().applied).toBe(4);
    expect(a2.status().confState.voters).toEqual(["a"]);
    const rd = a2.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([5]);
    expect(rd.entries).toEqual([]);
    expect(rd.hardState).toBeNull();
    a2.advance(rd);
    expect(a2.hasReady()).toBe(false);
    expect(() => new RaftCore(net.configFor("a"), net.storage.get("a")!.restoreState())).not.toThrow();
  });
});
