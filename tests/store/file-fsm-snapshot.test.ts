import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { SnapshotSink } from "../../src/raft/snapshot-store.ts";
import { emptyConfState, type SnapshotMeta } from "../../src/raft/types.ts";
import { SnapshotFormatError } from "../../src/store/snapshot-codec.ts";
import { del, folderState, Log, put, readText, type TestNode, testNodesPerTest } from "./fsm-fixture.ts";

const t = testNodesPerTest();
const node = t.node;

class MemorySink implements SnapshotSink {
  readonly parts: Uint8Array[] = [];
  closed = false;
  cancelled = false;
  constructor(readonly meta: SnapshotMeta) {}
  async write(chunk: Uint8Array): Promise<void> {
    this.parts.push(chunk.slice());
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  async cancel(): Promise<void> {
    this.cancelled = true;
  }
  /** Replays the bytes in small, oddly sized pieces, as a network stream would. */
  async *read(piece = 1000): AsyncGenerator<Uint8Array> {
    const all = Buffer.concat(this.parts);
    for (let i = 0; i < all.length; i += piece) yield all.subarray(i, i + piece);
  }
}

function meta(index: number): SnapshotMeta {
  return { index, term: 1, confState: emptyConfState() };
}

async function takeSnapshot(n: TestNode): Promise<MemorySink> {
  const snap = await n.fsm.snapshot();
  const sink = new MemorySink(meta(n.fsm.appliedIndex()));
  await snap.persist(sink);
  snap.release();
  expect(sink.closed).toBe(true);
  return sink;
}

async function buildSource(): Promise<{ a: TestNode; log: Log }> {
  const a = node("a");
  const log = new Log();
  log.add(put("readme.md", "# hi\n"));
  log.add(put("src/main.ts", "console.log(1)\n", { mode: 0o755 }));
  log.add(
    put(
      "big.bin",
      new Uint8Array(500_000).map((_, i) => (i * 13) & 0xff),
    ),
  );
  log.add(put("gone.txt", "soon deleted"));
  log.add(del("gone.txt", { n1: 1 }));
  log.add({ op: "mkdir", path: "empty-dir", mode: 0o700, base: {}, origin: "n1" });
  log.add(put("secret", "", { mode: 0o600 }));
  for (const e of log.entries) await a.fsm.apply(e);
  return { a, log };
}

describe("FileFSM snapshot and restore", () => {
  test("a snapshot restored into an empty node rebuilds folder, index and chunks exactly", async () => {
    const { a } = await buildSource();
    const sink = await takeSnapshot(a);
    const b = node("b");
    await b.fsm.restore(sink.meta, sink.read(777));
    expect(folderState(b.root)).toEqual(folderState(a.root));
    expect(b.index.list({ includeDeleted: true })).toEqual(a.index.list({ includeDeleted: true }));
    expect(b.fsm.appliedIndex()).toBe(sink.meta.index);
    expect(b.index.getMeta("appliedIndex")).toBe(String(sink.meta.index));
    // Only referenced chunks travel: the deleted file's chunk is not in the snapshot.
    expect((await a.fsm.gc(0)).removed).toBe(1);
    expect(b.chunks.stats()).toEqual(a.chunks.stats());
    expect(b.events.at(-1)).toMatchObject({ type: "restore", index: sink.meta.index, files: 4 });
  });

  test("restore deletes extraneous files, keeps untracked ones and saves unproposed edits as conflict copies", async () => {
    const { a } = await buildSource();
    const sink = await takeSnapshot(a);

    const b = node("b");
    const old = new Log();
    old.add(put("stale.txt", "only on b")); // tracked by b, not in the snapshot: removed
    old.add(put("edited.txt", "b's version")); // tracked, then edited locally: saved
    old.add(put("readme.md", "older readme")); // tracked, differs from the snapshot: replaced
    old.add(put("olddir/x.txt", "x"));
    for (const e of old.entries) await b.fsm.apply(e);
    writeFileSync(path.join(b.root, "edited.txt"), "edited but never proposed");
    writeFileSync(path.join(b.root, "untracked.txt"), "brand new, never proposed");

    await b.fsm.restore(sink.meta, sink.read());
    const state = folderState(b.root);
    const { "untracked.txt": untracked, ...rest } = state;
    expect(untracked).toBeDefined();
    const copies = Object.keys(rest).filter((p) => p.startsWith("edited.sync-conflict-"));
    expect(copies.length).toBe(1);
    expect(readText(b.root, copies[0]!)).toBe("edited but never proposed");
    delete rest[copies[0]!];
    expect(rest).toEqual(folderState(a.root));
    expect(existsSync(path.join(b.root, "stale.txt"))).toBe(false);
    expect(existsSync(path.join(b.root, "olddir"))).toBe(false);
    expect(b.index.list({ includeDeleted: true })).toEqual(a.index.list({ includeDeleted: true }));
  });

  test("applies continue after a restore, and a restore over an identical folder rewrites nothing", async () => {
    const { a, log } = await buildSource();
    const sink = await takeSnapshot(a);
    const b = node("b");
    await b.fsm.restore(sink.meta, sink.read());
    await b.fsm.restore(sink.meta, sink.read());
    expect(b.events.at(-1)).toMatchObject({ type: "restore", written: 0, removed: 0 });
    const next = log.add(put("after.txt", "after", { base: {} }));
    expect((await b.fsm.apply(log.entries[0]!)).action).toBe("skipped");
    await b.fsm.apply(next);
    await a.fsm.apply(next);
    expect(folderState(b.root)).toEqual(folderState(a.root));
  });

  test("a truncated snapshot is refused and leaves the index untouched", async () => {
    const { a } = await buildSource();
    const sink = await takeSnapshot(a);
    const all = Buffer.concat(sink.parts);
    const b = node("b");
    mkdirSync(path.join(b.root, "keep"));
    async function* cut() {
      yield all.subarray(0, all.length - 3);
    }
    await expect(b.fsm.restore(sink.meta, cut())).rejects.toBeInstanceOf(SnapshotFormatError);
    expect(b.index.list({ includeDeleted: true })).toEqual([]);
    expect(b.fsm.appliedIndex()).toBe(0);
    expect(readdirSync(b.root).sort()).toEqual([".pickbox", "keep"]);
  });

  test("chunks of a snapshot being persisted survive gc until it is released", async () => {
    const a = node("a");
    const log = new Log();
    await a.fsm.apply(log.add(put("f.txt", "kept by the snapshot")));
    const snap = await a.fsm.snapshot();
    await a.fsm.apply(log.add(del("f.txt", { n1: 1 })));
    expect((await a.fsm.gc(0)).removed).toBe(0);
    const sink = new MemorySink(meta(1));
    await snap.persist(sink);
    snap.release();
    expect((await a.fsm.gc(0)).removed).toBe(1);
    const b = node("b");
    await b.fsm.restore(sink.meta, sink.read());
    expect(readText(b.root, "f.txt")).toBe("kept by the snapshot");
  });
});
