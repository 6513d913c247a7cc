import { describe, expect, test } from "bun:test";
import { emptyMessage } from "../../../src/raft/types.ts";
import { bytes, TestNetwork } from "./test-network.ts";

describe("ReadIndex", () => {
  test("a single-voter leader answers at once with its commit index", () => {
    const net = new TestNetwork(["a"]);
    net.elect("a");
    net.node("a").propose(bytes("x"));
    net.node("a").readIndex("r1");
    const rd = net.node("a").ready();
    expect(rd.readStates).toEqual([{ index: 3, context: "r1" }]);
  });

  test("the leader confirms leadership with a heartbeat round carrying the context", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.node("a").readIndex("ctx-1");
    expect(net.node("a").hasReady()).toBe(true);
    const rd = net.node("a").ready();
    expect(rd.readStates).toEqual([]);
    const hbs = rd.messages.filter((m) => m.type === "heartbeat");
    expect(hbs.map((m) => [m.to, m.context])).toEqual([
      ["b", "ctx-1"],
      ["c", "ctx-1"],
    ]);
    net.queue.push(...rd.messages);
    net.stabilize();
    expect(net.readStates.get("a")).toEqual([{ index: 5, context: "ctx-1" }]);
  });

  test("reads queued before the next Ready share one heartbeat round, and each is answered", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    for (const ctx of ["q1", "q2", "q3", "q4"]) net.node("a").readIndex(ctx);
    const rd = net.node("a").ready();
    const hbs = rd.messages.filter((m) => m.type === "heartbeat");
    // One per follower, carrying the last context (its ack confirms the three before it too).
    expect(hbs.map((m) => [m.to, m.context])).toEqual([
      ["b", "q4"],
      ["c", "q4"],
    ]);
    net.queue.push(...rd.messages);
    net.stabilize();
    expect(net.readStates.get("a")).toEqual(
      ["q1", "q2", "q3", "q4"].map((context) => ({ index: 5, context })),
    );
    // A read after that Ready gets a round of its own.
    net.node("a").readIndex("q5");
    const later = net
      .node("a")
      .ready()
      .messages.filter((m) => m.type === "heartbeat");
    expect(later.map((m) => m.context)).toEqual(["q5", "q5"]);
  });

  test("a leader that steps down before its Ready sends no heartbeat round for the queued read", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.stabilize();
    net.node("a").readIndex("r");
    // A higher term arrives before the driver takes the Ready: a is a follower now.
    net.node("a").step(emptyMessage("heartbeat", "b", "a", 99));
    expect(net.node("a").status().role).toBe("follower");
    expect(
      net
        .node("a")
        .ready()
        .messages.filter((m) => m.type === "heartbeat"),
    ).toEqual([]);
  });

  test("a leader cut off from the quorum never answers", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.isolate("a");
    net.node("a").readIndex("lost");
    net.stabilize();
    net.tickAll(8);
    expect(net.readStates.get("a")).toEqual([]);
  });

  test("one ack is enough in three nodes; earlier pending reads are answered with later ones", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.isolate("c");
    net.filter = (m) => !(m.type === "heartbeatResp" && m.context === "r1");
    net.node("a").readIndex("r1");
    net.stabilize();
    expect(net.readStates.get("a")).toEqual([]);
    net.filter = null;
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.node("a").readIndex("r2");
    net.stabilize();
    expect(net.readStates.get("a")).toEqual([
      { index: 4, context: "r1" },
      { index: 5, context: "r2" },
    ]);
  });

  test("reads wait until the new leader commits an entry of its term", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.node("a").campaign();
    // Votes only: the leader's first append is still undelivered.
    net.processReady("a");
    net.deliverAll();
    net.processReady("b");
    net.processReady("c");
    net.deliverAll();
    const a = net.node("a");
    expect(a.status().role).toBe("leader");
    expect(a.status().commit).toBe(3);
    a.readIndex("early");
    net.stabilize();
    // Answered with the commit index that includes the new term's no-op, never the stale 3.
    expect(net.readStates.get("a")).toEqual([{ index: 4, context: "early" }]);
  });

  test("a follower forwards the read to the leader and outputs the answer", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.node("b").readIndex("from-b");
    net.stabilize();
    const fwd = net.messagesOfType("readIndex", "b");
    expect(fwd.map((m) => [m.to, m.term, m.context])).toEqual([["a", 0, "from-b"]]);
    expect(net.readStates.get("b")).toEqual([{ index: 5, context: "from-b" }]);
    expect(net.readStates.get("a")).toEqual([]);
    expect(net.messagesOfType("readIndexResp", "a").map((m) => [m.to, m.index])).toEqual([["b", 5]]);
  });

  test("a node without a known leader drops the read (the caller times out)", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.node("b").readIndex("nobody");
    expect(net.node("b").hasReady()).toBe(true); // only the bootstrap entries to apply
    net.stabilize();
    expect(net.sent).toEqual([]);
    expect(net.readStates.get("b")).toEqual([]);
  });

  test("learner acks do not confirm leadership", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.addEmptyNode("d");
    net.node("a").proposeConfChange({ type: "addLearner", nodeId: "d", address: "addr-d" });
    net.stabilize();
    net.tickAll(2);
    net.isolate("b");
    net.isolate("c");
    net.node("a").readIndex("r");
    net.stabilize();
    expect(net.messagesOfType("heartbeatResp", "d").some((m) => m.context === "r")).toBe(true);
    expect(net.readStates.get("a")).toEqual([]);
    net.heal();
    net.tickAll(2);
    expect(net.readStates.get("a")!.map((r) => r.context)).toEqual(["r"]);
  });
});
