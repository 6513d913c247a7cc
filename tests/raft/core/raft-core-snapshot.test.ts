import { describe, expect, test } from "bun:test";
import { RaftCore } from "../../../src/raft/core/raft-core.ts";
import { emptyMessage, type SnapshotMeta } from "../../../src/raft/types.ts";
import { bytes, TestNetwork } from "./test-network.ts";

function compactAt(net: TestNetwork, id: string, index: number): SnapshotMeta {
  const core = net.node(id);
  const st = net.storage.get(id)!;
  const e = st.entries.find((x) => x.index === index)!;
  const meta: SnapshotMeta = { index, term: e.term, confState: core.status().confState };
  core.compact(meta);
  st.compact(meta);
  return meta;
}

/** a leads; c misses `n` entries while a compacts its log past them. */
function laggingFollower(n: number): { net: TestNetwork; meta: SnapshotMeta; items: string[] } {
  const net = new TestNetwork(["a", "b", "c"]);
  net.elect("a");
  net.isolate("c");
  const items = Array.from({ length: n }, (_, i) => `s${i}`);
  for (const s of items) net.node("a").propose(bytes(s));
  net.stabilize();
  const meta = compactAt(net, "a", net.node("a").status().applied - 2);
  return { net, meta, items };
}

describe("compaction", () => {
  test("compact drops the log prefix and remembers the snapshot", () => {
    const net = new TestNetwork(["a"]);
    net.elect("a");
    for (const s of ["x", "y", "z"]) net.node("a").propose(bytes(s));
    net.stabilize();
    const a = net.node("a");
    expect(a.status().firstIndex).toBe(1);
    compactAt(net, "a", 4);
    expect(a.status().firstIndex).toBe(5);
    expect(a.status().lastIndex).toBe(5);
    // Stale compaction is ignored; the log keeps working.
    a.compact({ index: 2, term: 2, confState: a.status().confState });
    expect(a.status().firstIndex).toBe(5);
    a.propose(bytes("w"));
    net.stabilize();
    expect(net.applied.get("a")).toEqual(["x", "y", "z", "w"]);
  });

  test("compact refuses an index beyond applied or a wrong term", () => {
    const net = new TestNetwork(["a"]);
    net.elect("a");
    net.stabilize();
    const a = net.node("a");
    a.propose(bytes("x")); // index 3, not applied yet
    const cs = a.status().confState;
    expect(() => a.compact({ index: 3, term: 2, confState: cs })).toThrow();
    expect(() => a.compact({ index: 2, term: 1, confState: cs })).toThrow();
  });
});

describe("InstallSnapshot", () => {
  test("a follower behind the leader's first index receives a snapshot, then the rest of the log", () => {
    const { net, meta, items } = laggingFollower(20);
    net.heal();
    net.tickAll(4);
    const snaps = net.messagesOfType("snap", "a");
    expect(snaps.length).toBe(1);
    expect(snaps[0]!.to).toBe("c");
    expect(snaps[0]!.snapshot).toEqual(meta);
    expect(net.snapshotsInstalled.get("c")).toEqual([meta]);
    const c = net.node("c");
    expect(c.status().firstIndex).toBe(meta.index + 1);
    expect(c.status().commit).toBe(net.node("a").status().commit);
    expect(c.status().confState).toEqual(meta.confState);
    // Entries after the snapshot were applied normally.
    expect(net.applied.get("c")).toEqual(items.slice(-2));
    expect(net.appliedIndexes.get("c")).toEqual([1, 2, 3, 4, meta.index + 1, meta.index + 2]);
    const resp = net.messagesOfType("appResp", "c").find((m) => m.index === meta.index);
    expect(resp).toBeDefined();
    expect(
      net
        .node("a")
        .status()
        .progress.find((p) => p.id === "c")!.state,
    ).toBe("replicate");
  });

  test("the follower's Ready carries the snapshot with commit and applied at its index", () => {
    const { net, meta } = laggingFollower(10);
    const snap = emptyMessage("snap", "a", "c", 2);
    snap.snapshot = meta;
    const c = net.node("c");
    c.ready();
    c.step(snap);
    const st = c.status();
    expect(st.commit).toBe(meta.index);
    expect(st.applied).toBe(meta.index);
    expect(st.lastIndex).toBe(meta.index);
    const rd = c.ready();
    expect(rd.snapshot).toEqual(meta);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.hardState!.commit).toBe(meta.index);
    expect(rd.messages.map((m) => [m.type, m.index, m.reject])).toEqual([["appResp", meta.index, false]]);
    c.advance(rd);
    expect(c.hasReady()).toBe(false);
  });

  test("a snapshot at or below the follower's commit is ignored and answered with commit", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    const b = net.node("b");
    const snap = emptyMessage("snap", "a", "b", 2);
    snap.snapshot = { index: 3, term: 1, confState: b.status().confState };
    b.step(snap);
    const rd = b.ready();
    expect(rd.snapshot).toBeNull();
    expect(rd.messages.map((m) => [m.type, m.index])).toEqual([["appResp", 5]]);
  });

  test("a snapshot whose last entry the follower already has only advances commit", () => {
    const net = new TestNetwork(["a", "b", "c"]);
    net.elect("a");
    net.cutLink("a", "b");
    net.node("a").propose(bytes("x"));
    net.stabilize();
    net.heal();
    // Give b the entry without the commit index.
    const b = net.node("b");
    const app = emptyMessage("app", "a", "b", 2);
    app.index = 4;
    app.logTerm = 2;
    app.entries = [{ term: 2, index: 5, type: 0, data: bytes("x") }];
    app.commit = 4;
    b.step(app);
    b.ready();
    const snap = emptyMessage("snap", "a", "b", 2);
    snap.snapshot = { index: 5, term: 2, confState: b.status().confState };
    b.step(snap);
    const rd = b.ready();
    expect(rd.snapshot).toBeNull();
    expect(b.status().commit).toBe(5);
    expect(b.status().lastIndex).toBe(5);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([5]);
  });

  test("the peer stays in snapshot state until reportSnapshot; a failure lets the leader retry", () => {
    const { net, meta } = laggingFollower(10);
    net.heal();
    net.autoReportSnapshot = false;
    net.filter = (m) => m.type !== "snap";
    net.tickAll(4);
    const pr = () =>
      net
        .node("a")
        .status()
        .progress.find((p) => p.id === "c")!;
    expect(pr().state).toBe("snapshot");
    const sentBefore = net.messagesOfType("snap", "a").length;
    net.tickAll(6);
    expect(net.messagesOfType("snap", "a").length).toBe(sentBefore); // paused: no resend
    net.node("a").reportSnapshot("c", false);
    expect(pr().state).toBe("probe");
    net.filter = null;
    net.tickAll(4);
    expect(net.messagesOfType("snap", "a").length).toBe(sentBefore + 1);
    expect(net.snapshotsInstalled.get("c")).toEqual([meta]);
    expect(pr().state).toBe("replicate");
    expect(net.node("c").status().commit).toBe(net.node("a").status().commit);
  });

  test("a follower restarted after installing a snapshot resumes from it", () => {
    const { net, meta, items } = laggingFollower(10);
    net.heal();
    net.tickAll(4);
    net.crash("c");
    net.node("a").propose(bytes("after"));
    net.stabilize();
    const c = net.start("c");
    expect(c.status().firstIndex).toBe(meta.index + 1);
    expect(c.status().applied).toBe(meta.index);
    net.applied.set("c", []);
    net.tickAll(4);
    expect(net.applied.get("c")).toEqual([...items.slice(-2), "after"]);
    const fresh = new RaftCore(net.configFor("c"), net.storage.get("c")!.restoreState());
    expect(fresh.status().confState.voters).toEqual(["a", "b", "c"]);
  });
});
