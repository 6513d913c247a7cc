import { describe, expect, test } from "bun:test";
import { bootstrapState, RaftCore } from "../../../src/raft/core/raft-core.ts";
import { bytes, config, TestNetwork, text } from "./test-network.ts";

describe("Ready contract", () => {
  test("bootstrap: the first Ready hands out entry 1 to apply, nothing to persist", () => {
    const core = new RaftCore(config("a"), bootstrapState("a", "h:1"));
    expect(core.hasReady()).toBe(true);
    const rd = core.ready();
    expect(rd.entries).toEqual([]);
    expect(rd.hardState).toBeNull();
    expect(rd.committedEntries.length).toBe(1);
    expect(rd.committedEntries[0]!.type).toBe(1);
    expect(JSON.parse(text(rd.committedEntries[0]!.data))).toEqual({
      type: "addVoter",
      nodeId: "a",
      address: "h:1",
    });
    expect(core.status().confState).toEqual({ voters: ["a"], learners: [], addresses: { a: "h:1" } });
    core.advance(rd);
    expect(core.hasReady()).toBe(false);
  });

  test("entries and committed entries are never handed out twice, even before advance", () => {
    const core = new RaftCore(config("a"), bootstrapState("a", "h:1"));
    core.campaign();
    core.propose(bytes("x"));
    const rd1 = core.ready();
    expect(rd1.softState).toEqual({ leader: "a", role: "leader" });
    expect(rd1.hardState).toEqual({ term: 2, vote: "a", commit: 3 });
    expect(rd1.entries.map((e) => e.index)).toEqual([2, 3]);
    expect(rd1.committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);
    core.propose(bytes("y"));
    const rd2 = core.ready();
    expect(rd2.softState).toBeNull();
    expect(rd2.hardState).toEqual({ term: 2, vote: "a", commit: 4 });
    expect(rd2.entries.map((e) => e.index)).toEqual([4]);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([4]);
    core.advance(rd1);
    core.advance(rd2);
    expect(core.status().applied).toBe(4);
    expect(core.hasReady()).toBe(false);
  });

  test("hardState appears only when term, vote or commit changed", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.readies.length = 0;
    net.tickAll(4); // heartbeats only
    for (const { rd } of net.readies) expect(rd.hardState).toBeNull();
  });

  test("the same seed and inputs give the same outputs (determinism)", () => {
    const run = (): string => {
      const net = new TestNetwork(["a", "b", "c", "d", "e"], { seed: 42, shuffle: true, preVote: true });
      net.tickAll(30);
      const leader = net.leaderIds()[0]!;
      for (let i = 0; i < 10; i++) net.node(leader).propose(bytes(`d${i}`));
      net.stabilize();
      net.tickAll(5);
      return JSON.stringify(net.sent, (_k, v) => (v instanceof Uint8Array ? text(v) : v));
    };
    const a = run();
    expect(a.length).toBeGreaterThan(1000);
    expect(run()).toBe(a);
  });
});
