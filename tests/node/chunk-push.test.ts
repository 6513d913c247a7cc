import { describe, expect, test } from "bun:test";
import { ChunkPush, type ChunkPushDeps } from "../../src/node/chunk-push.ts";
import type { TransferEvent } from "../../src/node/node-events.ts";
import type { PeerRequest } from "../../src/node/peer-rpc.ts";
import { PushedChunks } from "../../src/node/pushed-chunks.ts";
import { TransferProgress } from "../../src/node/transfer-progress.ts";
import type { Chunk } from "../../src/store/chunker.ts";

const KiB = 1024;

function chunk(name: string, bytes: number): Chunk {
  return { hash: name, data: new Uint8Array(bytes) };
}

interface Sent {
  to: string;
  hashes: string[];
  durable: boolean | undefined;
  /** Only when the request named chunks the peer should hold. */
  expect?: string[];
  /** Only when the request placed its chunks in a staged file: the stage id and the offsets. */
  stage?: string;
  at?: (number | null)[];
}

/** A push from node1 to node2 and node3 (three voters); requests are answered when `answer` says so. */
function harness(
  o: {
    failing?: string[];
    hold?: boolean;
    stored?: Chunk[];
    syncOwn?: () => Promise<void>;
    durableWaitsFor?: Promise<void>;
    pushed?: PushedChunks;
    /** Per peer: chunks it does not hold, though the origin's record says it took them (it restarted). */
    lost?: Record<string, string[]>;
  } = {},
) {
  const sent: Sent[] = [];
  const held: (() => void)[] = [];
  const events: TransferEvent[] = [];
  const reads: string[] = [];
  let ownSyncs = 0;
  const stored = new Map((o.stored ?? []).map((c) => [c.hash, c.data]));
  const deps: ChunkPushDeps = {
    self: "node1",
    members: {
      voters: ["node1", "node2", "node3"],
      learners: [],
      addresses: { node1: "a1", node2: "a2", node3: "a3" },
    },
    request: async (address, req: PeerRequest) => {
      if (req.t !== "putChunks") throw new Error("unexpected request");
      const to = address === "a2" ? "node2" : "node3";
      sent.push({
        to,
        hashes: req.chunks.map((c) => c.hash),
        durable: req.durable,
        ...(req.expect ? { expect: req.expect } : {}),
        ...(req.stage ? { stage: `${req.stage.id} ${req.stage.path} ${req.stage.size}`, at: req.at } : {}),
      });
      if (o.failing?.includes(to)) throw new Error(`${to} is down`);
      if (o.hold && req.chunks.length > 0) await new Promise<void>((r) => held.push(r));
      if (req.durable) await o.durableWaitsFor;
      const lost = o.lost?.[to] ?? [];
      // A lost chunk stays missing until this peer is sent it again.
      for (const c of req.chunks) if (lost.includes(c.hash)) lost.splice(lost.indexOf(c.hash), 1);
      const missing = (req.expect ?? []).filter((h) => lost.includes(h));
      return missing.length > 0 ? { missing } : true;
    },
    read: async (h) => {
      reads.push(h);
      return stored.get(h) ?? null;
    },
    sizeOf: (h) => stored.get(h)?.length ?? null,
    syncOwn: async () => {
      ownSyncs++;
      await o.syncOwn?.();
    },
    startProgress: (p) =>
      new TransferProgress({
        ...p,
        id: "push-1",
        emit: (e) => events.push(e),
        clock: () => 0,
        intervalMs: 0,
      }),
    batchBytes: 100 * KiB,
    window: 2,
    ...(o.pushed ? { pushed: o.pushed } : {}),
  };
  return {
    push: new ChunkPush(deps),
    next: () => new ChunkPush(deps), // another push of the same node (the rescan after a failed scan)
    sent,
    held,
    events,
    reads,
    ownSyncs: () => ownSyncs,
  };
}

describe("ChunkPush", () => {
  test("batches go out while the scan still adds chunks; finish sends the rest, then one durable request per peer", async () => {
    const h = harness();
    await h.push.add("big.bin", 3 * 1024 * KiB, [chunk("c1", 60 * KiB), chunk("c2", 60 * KiB)]);
    // 120 KiB >= the 100 KiB batch: sent to both peers before the scan is over, without fsync.
    expect(h.sent).toEqual([
      { to: "node2", hashes: ["c1", "c2"], durable: false },
      { to: "node3", hashes: ["c1", "c2"], durable: false },
    ]);
    await h.push.add("big.bin", 3 * 1024 * KiB, [chunk("c3", 50 * KiB), chunk("c1", 60 * KiB)]); // c1 again: skipped
    expect(h.sent).toHaveLength(2);
    await h.push.finish(["c1", "c2", "c3"], ["big.bin"]);
    expect(h.sent.slice(2)).toEqual([
      { to: "node2", hashes: ["c3"], durable: false },
      { to: "node3", hashes: ["c3"], durable: false },
      { to: "node2", hashes: [], durable: true },
      { to: "node3", hashes: [], durable: true },
    ]);
    expect(h.reads).toEqual([]); // everything came from the scan
    expect(h.ownSyncs()).toBe(1);
    const last = h.events.at(-1)!;
    // The file's size was the first estimate; the final event reports what really moved.
    expect(h.events[0]).toMatchObject({ bytesDone: 0, bytesTotal: 3 * 1024 * KiB, state: "active" });
    expect(last).toMatchObject({ state: "done", bytesDone: 170 * KiB, bytesTotal: 170 * KiB });
    expect(last.chunksDone).toBe(3);
    expect(last.chunksTotal).toBe(3);
    expect(last.peers.sort()).toEqual(["node2", "node3"]);
  });

  test("the origin's own fsync runs while the peers' durable requests are out, not after them", async () => {
    let ownSyncStarted!: () => void;
    const started = new Promise<void>((r) => {
      ownSyncStarted = r;
    });
    const h = harness({
      // A peer acknowledges its fsync only once the origin has started its own: run one after the
      // other, finish would wait forever.
      durableWaitsFor: started,
      syncOwn: async () => ownSyncStarted(),
    });
    await h.push.add("big.bin", 2 * 1024 * KiB, [chunk("c1", 120 * KiB)]);
    const outcome = await Promise.race([
      h.push.finish(["c1"], ["big.bin"]).then(() => "finished"),
      new Promise((r) => setTimeout(() => r("stuck"), 2000)),
    ]);
    ownSyncStarted(); // lets a stuck push end
    expect(outcome).toBe("finished");
    expect(h.ownSyncs()).toBe(1);
    expect(h.sent.filter((s) => s.durable === true).map((s) => s.to)).toEqual(["node2", "node3"]);
  });

  test("finish reads from the store only the chunks nobody handed over", async () => {
    const h = harness({ stored: [chunk("s1", 70 * KiB), chunk("s2", 70 * KiB)] });
    await h.push.add("a.bin", 10 * KiB, [chunk("a1", 10 * KiB)]);
    await h.push.finish(["a1", "s1", "s2"], ["a.bin", "b.bin"]);
    expect(h.reads).toEqual(["s1", "s2"]);
    const node2 = h.sent.filter((s) => s.to === "node2");
    expect(node2).toEqual([
      { to: "node2", hashes: ["a1", "s1", "s2"], durable: false },
      { to: "node2", hashes: [], durable: true },
    ]);
  });

  test("no more than `window` batches are in flight: add waits for the oldest", async () => {
    const h = harness({ hold: true });
    await h.push.add("f", 1, [chunk("b1", 100 * KiB)]);
    await h.push.add("f", 1, [chunk("b2", 100 * KiB)]);
    let third = false;
    const adding = h.push.add("f", 1, [chunk("b3", 100 * KiB)]).then(() => {
      third = true;
    });
    await Bun.sleep(5);
    expect(third).toBe(false);
    expect(h.sent.map((s) => s.hashes[0])).toEqual(["b1", "b1", "b2", "b2"]);
    h.held.shift()!();
    h.held.shift()!(); // b1 answered by both peers: a slot frees up
    await adding;
    expect(third).toBe(true);
    expect(h.sent.map((s) => s.hashes[0])).toEqual(["b1", "b1", "b2", "b2", "b3", "b3"]);
    const done = h.push.finish(["b1", "b2", "b3"], ["f"]);
    while (h.held.length > 0) h.held.shift()!();
    await Bun.sleep(1);
    while (h.held.length > 0) h.held.shift()!();
    await done;
  });

  test("a peer that fails is dropped; the push succeeds while a quorum of voters holds everything", async () => {
    const h = harness({ failing: ["node3"] });
    await h.push.add("big.bin", 2 * 1024 * KiB, [chunk("c1", 120 * KiB)]);
    await h.push.finish(["c1"], ["big.bin"]);
    expect(h.sent.filter((s) => s.to === "node3")).toHaveLength(1); // tried once, then left out
    expect(h.sent.filter((s) => s.to === "node2").map((s) => s.durable)).toEqual([false, true]);
    expect(h.events.at(-1)).toMatchObject({ state: "done", peers: ["node2"] });
  });

  test("without a quorum the push fails and says how many voters hold the chunks", async () => {
    const h = harness({ failing: ["node2", "node3"] });
    await expect(
      (async () => {
        await h.push.add("big.bin", 2 * 1024 * KiB, [chunk("c1", 120 * KiB)]);
        await h.push.finish(["c1"], ["big.bin"]);
      })(),
    ).rejects.toThrow("chunks reached 1 of the 2 voters needed");
    expect(h.events.at(-1)).toMatchObject({ state: "failed" });
  });

  test("an aborted push (its scan failed) reports failure once and proposes nothing", async () => {
    const h = harness();
    await h.push.add("growing.bin", 4 * 1024 * KiB, [chunk("g1", 120 * KiB)]);
    h.push.abort(new Error("growing.bin is still being written"));
    h.push.abort(new Error("again"));
    const ends = h.events.filter((e) => e.state !== "active");
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ state: "failed", error: "growing.bin is still being written" });
    expect(h.sent.every((s) => s.durable === false)).toBe(true);
  });

  test("a rescan does not ship again what the failed scan's push delivered; its durable request names it", async () => {
    const pushed = new PushedChunks();
    const h = harness({ pushed, stored: [chunk("c1", 60 * KiB), chunk("c2", 60 * KiB)] });
    // The first scan pushed c1 and c2, then found the file had changed under it.
    await h.push.add("big.bin", 3 * 1024 * KiB, [chunk("c1", 60 * KiB), chunk("c2", 60 * KiB)]);
    h.push.abort(new Error("big.bin changed while it was scanned"));
    await Bun.sleep(0);
    expect(h.sent).toHaveLength(2);
    // The rescan reads the same first chunks and a new last one.
    const again = h.next();
    await again.add("big.bin", 3 * 1024 * KiB, [
      chunk("c1", 60 * KiB),
      chunk("c2", 60 * KiB),
      chunk("c3", 110 * KiB),
    ]);
    await again.finish(["c1", "c2", "c3"], ["big.bin"]);
    expect(h.sent.slice(2)).toEqual([
      { to: "node2", hashes: ["c3"], durable: false },
      { to: "node3", hashes: ["c3"], durable: false },
      { to: "node2", hashes: [], durable: true, expect: ["c1", "c2"] },
      { to: "node3", hashes: [], durable: true, expect: ["c1", "c2"] },
    ]);
    expect(h.reads).toEqual([]);
  });

  test("a peer that no longer holds a carried chunk says so and is sent it again, durably", async () => {
    const pushed = new PushedChunks();
    const lost: Record<string, string[]> = {};
    const h = harness({ pushed, stored: [chunk("c1", 60 * KiB), chunk("c2", 60 * KiB)], lost });
    await h.push.add("big.bin", 1024 * KiB, [chunk("c1", 60 * KiB), chunk("c2", 60 * KiB)]);
    h.push.abort(new Error("changed"));
    await Bun.sleep(0);
    lost.node3 = ["c2"]; // node3 restarted before its copy of c2 was synced
    const again = h.next();
    await again.add("big.bin", 1024 * KiB, [chunk("c1", 60 * KiB), chunk("c2", 60 * KiB)]);
    await again.finish(["c1", "c2"], ["big.bin"]);
    expect(h.sent.slice(2)).toEqual([
      { to: "node2", hashes: [], durable: true, expect: ["c1", "c2"] },
      { to: "node3", hashes: [], durable: true, expect: ["c1", "c2"] },
      { to: "node3", hashes: ["c2"], durable: true, expect: ["c2"] },
    ]);
    expect(h.reads).toEqual(["c2"]);
    // The record is corrected: the next push sends c2 to node3 again rather than assume it.
    expect(pushed.heldByAll("c2", ["node3"])).toBe(true); // it was just sent and confirmed
    expect(pushed.heldByAll("c1", ["node2", "node3"])).toBe(true);
  });

  test("a chunk only some peers took goes to every peer again", async () => {
    const pushed = new PushedChunks();
    pushed.note("c1", "node2");
    const h = harness({ pushed });
    await h.push.add("f", 1, [chunk("c1", 120 * KiB)]);
    expect(h.sent.map((s) => s.to)).toEqual(["node2", "node3"]);
    await h.push.finish(["c1"], ["f"]);
    expect(h.sent.filter((s) => s.durable).every((s) => s.expect === undefined)).toBe(true);
  });

  test("a peer that still lacks chunks after they were sent again is dropped from the push", async () => {
    const pushed = new PushedChunks();
    for (const p of ["node2", "node3"]) pushed.note("c1", p);
    const h = harness({ pushed, stored: [chunk("c1", 60 * KiB), chunk("c2", 120 * KiB)] });
    // node3 answers every expect with "missing", whatever it is sent: it must not count for the quorum.
    const deps = (h.push as unknown as { d: ChunkPushDeps }).d;
    const inner = deps.request;
    deps.request = async (address, req) => {
      const r = await inner(address, req);
      return address === "a3" && req.t === "putChunks" && req.expect ? { missing: req.expect } : r;
    };
    await h.push.add("f", 3 * 1024 * KiB, [chunk("c1", 60 * KiB), chunk("c2", 120 * KiB)]);
    await h.push.finish(["c1", "c2"], ["f"]);
    expect(h.sent.filter((s) => s.to === "node3").map((s) => s.hashes)).toEqual([["c2"], [], ["c1"]]);
    expect(h.events.at(-1)).toMatchObject({ state: "done", peers: ["node2"] });
  });

  test("placed chunks travel with their stage and offsets; one request never mixes two staged files", async () => {
    const h = harness();
    const MiB = 1024 * KiB;
    await h.push.add("a.bin", 8 * MiB, [chunk("a1", 30 * KiB), chunk("a2", 30 * KiB)], {
      stage: "n1:1",
      offsets: [0, 30 * KiB],
    });
    // A small file's chunk (no placement) may share the batch; b.bin's chunks start a new one.
    await h.push.add("small.txt", 40 * KiB, [chunk("s1", 20 * KiB)]);
    await h.push.add(
      "b.bin",
      6 * MiB,
      [chunk("b1", 50 * KiB), chunk("a1", 30 * KiB), chunk("b2", 70 * KiB)],
      {
        stage: "n1:2",
        offsets: [0, 50 * KiB, 80 * KiB],
      },
    );
    await h.push.finish(["a1", "a2", "s1", "b1", "b2"], ["a.bin", "small.txt", "b.bin"]);
    const toNode2 = h.sent.filter((x) => x.to === "node2");
    expect(toNode2).toEqual([
      {
        to: "node2",
        hashes: ["a1", "a2", "s1"],
        durable: false,
        stage: `n1:1 a.bin ${8 * MiB}`,
        at: [0, 30 * KiB, null],
      },
      // a1 was sent already (for a.bin): b.bin's copy of it is left to the apply, which has it stored.
      {
        to: "node2",
        hashes: ["b1", "b2"],
        durable: false,
        stage: `n1:2 b.bin ${6 * MiB}`,
        at: [0, 80 * KiB],
      },
      { to: "node2", hashes: [], durable: true },
    ]);
    expect(h.sent.filter((x) => x.to === "node3").map((x) => x.at)).toEqual(toNode2.map((x) => x.at));
  });
});
