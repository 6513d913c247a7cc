// The FSM snapshot stream: length-prefixed msgpack records, so a node rebuilds everything from nothing
// (index entries, tombstones included, then the bytes of every referenced chunk) in bounded memory.
//   u32be length | msgpack record   ...
//   {t:"hdr", v, appliedIndex, entries, chunks} {t:"e", e}* {t:"c", h, d}* {t:"end"}
import { Packr } from "msgpackr";
import type { SnapshotSink } from "../raft/snapshot-store.ts";
import type { ChunkStore } from "./chunk-store.ts";
import type { Chunk } from "./chunker.ts";
import type { IndexEntry } from "./file-index.ts";
import { normalizeRelPath } from "./paths.ts";
import { normalized } from "./vector-clock.ts";

export const SNAPSHOT_VERSION = 1;
const FLUSH_BYTES = 1 << 20;
const PUT_BATCH_BYTES = 8 << 20;
const MAX_RECORD = 64 << 20;
const HASH_RE = /^[0-9a-f]{64}$/;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export class SnapshotFormatError extends Error {
  override name = "SnapshotFormatError";
}

export async function writeSnapshot(
  sink: SnapshotSink,
  appliedIndex: number,
  entries: IndexEntry[],
  chunkHashes: string[],
  chunks: ChunkStore,
): Promise<void> {
  const parts: Uint8Array[] = [];
  let buffered = 0;
  const flush = async () => {
    if (buffered === 0) return;
    const out = new Uint8Array(buffered);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    parts.length = 0;
    buffered = 0;
    await sink.write(out);
  };
  const record = async (r: unknown) => {
    const body = packr.pack(r);
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, body.length);
    parts.push(head, body);
    buffered += 4 + body.length;
    if (buffered >= FLUSH_BYTES) await flush();
  };
  try {
    await record({
      t: "hdr",
      v: SNAPSHOT_VERSION,
      appliedIndex,
      entries: entries.length,
      chunks: chunkHashes.length,
    });
    for (const e of entries) await record({ t: "e", e: plainEntry(e) });
    for (const h of chunkHashes) {
      const d = await chunks.get(h);
      if (!d) throw new Error(`snapshot: chunk ${h} is referenced by the index but missing from the store`);
      await record({ t: "c", h, d });
    }
    await record({ t: "end" });
    await flush();
  } catch (e) {
    await sink.cancel();
    throw e;
  }
  await sink.close();
}

/** Reads a snapshot stream; chunks go straight into the store, entries are returned (metadata only). */
export async function readSnapshot(
  data: AsyncIterable<Uint8Array>,
  chunks: ChunkStore,
): Promise<{ appliedIndex: number; entries: IndexEntry[] }> {
  let header: { appliedIndex: number; entries: number; chunks: number } | null = null;
  const entries: IndexEntry[] = [];
  let batch: Chunk[] = [];
  let batchBytes = 0;
  let chunkCount = 0;
  let ended = false;
  for await (const rec of records(data)) {
    if (ended) throw new SnapshotFormatError("data after the end record");
    if (!isRecord(rec)) throw new SnapshotFormatError("record is not a map");
    if (header === null) {
      if (rec.t !== "hdr") throw new SnapshotFormatError("missing header");
      if (rec.v !== SNAPSHOT_VERSION)
        throw new SnapshotFormatError(`unsupported snapshot version ${String(rec.v)}`);
      header = {
        appliedIndex: Number(rec.appliedIndex),
        entries: Number(rec.entries),
        chunks: Number(rec.chunks),
      };
      continue;
    }
    if (rec.t === "e") entries.push(checkEntry(rec.e));
    else if (rec.t === "c") {
      if (typeof rec.h !== "string" || !HASH_RE.test(rec.h) || !(rec.d instanceof Uint8Array)) {
        throw new SnapshotFormatError("bad chunk record");
      }
      chunkCount++;
      if (chunks.has(rec.h)) continue;
      batch.push({ hash: rec.h, data: rec.d });
      batchBytes += rec.d.length;
      if (batchBytes >= PUT_BATCH_BYTES) {
        await chunks.putMany(batch);
        batch = [];
        batchBytes = 0;
      }
    } else if (rec.t === "end") ended = true;
    else throw new SnapshotFormatError(`unknown record type ${JSON.stringify(rec.t)}`);
  }
  if (batch.length > 0) await chunks.putMany(batch);
  if (!header) throw new SnapshotFormatError("empty snapshot");
  if (!ended) throw new SnapshotFormatError("snapshot is truncated (no end record)");
  if (entries.length !== header.entries || chunkCount !== header.chunks) {
    throw new SnapshotFormatError(
      `snapshot counts disagree: ${entries.length}/${header.entries} entries, ${chunkCount}/${header.chunks} chunks`,
    );
  }
  for (const e of entries) {
    if (e.deleted || e.kind !== "file") continue;
    for (const h of e.chunks)
      if (!chunks.has(h)) throw new SnapshotFormatError(`chunk ${h} of ${e.path} missing`);
  }
  return { appliedIndex: header.appliedIndex, entries };
}

async function* records(data: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  let buf = new Uint8Array(0);
  for await (const piece of data) {
    const merged = new Uint8Array(buf.length + piece.length);
    merged.set(buf);
    merged.set(piece, buf.length);
    buf = merged;
    let off = 0;
    while (buf.length - off >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0);
      if (len > MAX_RECORD) throw new SnapshotFormatError(`record of ${len} bytes is too large`);
      if (buf.length - off - 4 < len) break;
      yield packr.unpack(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    buf = buf.slice(off);
  }
  if (buf.length > 0) throw new SnapshotFormatError("snapshot ends inside a record");
}

function plainEntry(e: IndexEntry): IndexEntry {
  return {
    path: e.path,
    kind: e.kind,
    hash: e.hash,
    size: e.size,
    mode: e.mode,
    mtimeMs: e.mtimeMs,
    chunks: [...e.chunks],
    clock: normalized(e.clock),
    deleted: e.deleted,
    origin: e.origin,
    updatedIndex: e.updatedIndex,
  };
}

function checkEntry(v: unknown): IndexEntry {
  if (!isRecord(v)) throw new SnapshotFormatError("entry is not a map");
  const path = v.path;
  if (typeof path !== "string" || normalizeRelPath(path) !== path) {
    throw new SnapshotFormatError(`entry path ${JSON.stringify(path)} is not canonical`);
  }
  const num = (x: unknown, name: string) => {
    if (typeof x !== "number" || !Number.isFinite(x)) throw new SnapshotFormatError(`${path}: bad ${name}`);
    return x;
  };
  if (v.kind !== "file" && v.kind !== "dir") throw new SnapshotFormatError(`${path}: bad kind`);
  if (!Array.isArray(v.chunks) || !v.chunks.every((h) => typeof h === "string" && HASH_RE.test(h))) {
    throw new SnapshotFormatError(`${path}: bad chunk list`);
  }
  if (!isRecord(v.clock)) throw new SnapshotFormatError(`${path}: bad clock`);
  if (typeof v.hash !== "string" || typeof v.origin !== "string" || typeof v.deleted !== "boolean") {
    throw new SnapshotFormatError(`${path}: bad field`);
  }
  return {
    path,
    kind: v.kind,
    hash: v.hash,
    size: num(v.size, "size"),
    mode: num(v.mode, "mode") & 0o7777,
    mtimeMs: num(v.mtimeMs, "mtimeMs"),
    chunks: v.chunks as string[],
    clock: normalized(v.clock as Record<string, number>),
    deleted: v.deleted,
    origin: v.origin,
    updatedIndex: num(v.updatedIndex, "updatedIndex"),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
