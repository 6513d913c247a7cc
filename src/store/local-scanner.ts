// Local changes → proposals. "This path may have changed" becomes a command, or null when nothing did:
// a stat equal to the one recorded at the last materialisation, or content equal to the index entry, is
// an echo (our own apply, a touch, a no-op rescan) and is dropped. Nothing here writes the index except
// the local stat of unchanged files; the FSM records everything else when the proposal commits.
import { lstatSync, type Stats } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { ChunkStore } from "./chunk-store.ts";
import type { Chunk } from "./chunker.ts";
import { chunkFile, chunkFileAgainst, type PreviousChunk } from "./chunker.ts";
import {
  DEFAULT_INLINE_LIMIT,
  type DeltaChunk,
  deltaOf,
  type InlineChunk,
  type LeafCommand,
} from "./commands.ts";
import { sameStat } from "./file-fsm.ts";
import type { WholeFileHash } from "./file-hasher.ts";
import { agreesWithIndex, type FileIndex, type IndexEntry, liveEntry } from "./file-index.ts";
import { normalizeRelPath, PathError, resolveInside, resolveInsideStat, STATE_DIR_NAME } from "./paths.ts";
import { STAGE_MIN_BYTES } from "./push-staging.ts";

export interface LocalScannerDeps {
  root: string;
  nodeId: string;
  index: FileIndex;
  chunks: ChunkStore;
  /** New chunk bytes up to this total ride inline in the command. */
  inlineLimit?: number;
  /** Sequence numbers for proposals (per process; informational). */
  nextSeq?: () => number;
  /** True while the FSM is placing exactly these bytes at this path (renamed in, index not yet
   * committed): what the watcher saw is our own apply, not a user's edit. */
  isBeingApplied?: (rel: string, hash: string) => boolean;
  /** True while the FSM is placing something at `rel` (index not yet committed). Scanning now would
   * only hash our own apply, so the scan is deferred: onDeferred(rel) asks to rescan after the commit,
   * when a cheap stat comparison tells an echo from a user's edit. */
  isPlacing?: (rel: string) => boolean;
  onDeferred?: (rel: string) => void;
  /** Told how many bytes of a large file the scan just read (the node paces garbage collection). */
  onBulkBytes?: (bytes: number) => void;
  /** Hashes a whole file elsewhere (FileHasher's worker thread) while the scan cuts its chunks. */
  hashFile?: (abs: string) => Promise<WholeFileHash>;
  /** Cuts a whole file into hashed chunks elsewhere (FileHasher.chunks, the worker thread): a new large
   * file's scan then only hashes it whole, stores and pushes here. */
  chunkFile?: (abs: string) => { chunks: AsyncIterable<Chunk>; size: Promise<number> };
  /** A short wait before a large file is read: a file that grows meanwhile is still being written (one
   * big write() reports its modification only at the end), so it is left for the writer's next event
   * instead of being half read, stored and pushed. */
  growthProbe?: () => Promise<void>;
  /** Whether some process has the file open for writing (null: cannot tell). A large file someone is
   * still writing (fallocate then one long write looks complete by size all along) is left for the
   * writer's next event, for up to WRITER_WAIT_MS, instead of being read and pushed while it changes. */
  openForWriting?: (abs: string) => boolean | null;
  /** Milliseconds since some epoch (default Date.now): how long a file has been seen open for writing. */
  now?: () => number;
}

/** Where a scan hands the chunks it stores (not the inline ones), as it goes: the node pushes them to
 * the peers while the rest of the file is still being read. A large file's chunks come with `placement`:
 * the scan's stage id (one per scan of one file) and each chunk's offset in the file, so the peers can
 * assemble the file as the chunks arrive (PushStaging). */
export interface ChunkSink {
  add(file: string, fileSize: number, chunks: Chunk[], placement?: ChunkPlacement): Promise<void>;
}

export interface ChunkPlacement {
  stage: string;
  /** offsets[i]: where chunks[i] starts in the file. */
  offsets: number[];
}

export interface ScanResult {
  command: LeafCommand;
  /** Chunks stored locally (not inline) that peers need before the command can commit. */
  missingChunks: string[];
}

/** The file changed while it was read (an editor still writing): scan again later. */
export class ScanRaceError extends Error {
  override name = "ScanRaceError";
  /** `retryAfterMs`: when a new look is worth it (the pipeline's default when not given). */
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** How soon a large file left for its writer is looked at again. Closing it changes nothing the watcher
 * reports, so this poll is what starts the scan: 10 ms rather than the 50 of other races saves ~20 ms on
 * average per large copy, for an lstat and a lease attempt (microseconds) per poll while it lasts. */
export const WRITER_POLL_MS = 10;

/** New chunk bytes stored (and handed to the sink) at a time; also how often a large file's stat is checked. */
const STORE_BATCH_BYTES = 4 << 20;
/** Files from this size on have their whole-file hash computed by hashFile, beside the scan. */
const PARALLEL_HASH_MIN_BYTES = 4 << 20;
/** A large file seen open for writing this long is scanned anyway (a log a daemon keeps open, say). */
export const WRITER_WAIT_MS = 2000;
/** Files from this size on are looked at twice (growthProbe) before they are read. */
const GROWTH_PROBE_MIN_BYTES = 4 << 20;
/** Chunks from this size on may travel as a difference from the previous version's (smaller: not worth it). */
const MIN_DELTA_CHUNK = 4096;
/** Files from this size on are rescanned against their previous version (chunkFileAgainst). */
const DELTA_SCAN_MIN_BYTES = 1 << 20;
/** File timestamps can lag the clock by up to a tick (1-10 ms): newer mtimes are not trusted by knownHash. */
const RACY_MTIME_MS = 20;
/** Recent proposals remembered for knownHash (oldest dropped first). */
const PROPOSED_MEMORY = 4096;

export class LocalScanner {
  private seq = 0;
  private stageSeq = 0;
  /** Large files found open for writing, since when (see openForWriting). */
  private readonly writing = new Map<string, number>();
  private readonly inlineLimit: number;
  /** What this node last proposed per path: the stat it hashed and the hash (see knownHash). */
  private readonly proposed = new Map<
    string,
    { size: number; mtimeMs: number; ino: number; hash: string; hashedAt: number }
  >();

  constructor(private readonly d: LocalScannerDeps) {
    this.inlineLimit = d.inlineLimit ?? DEFAULT_INLINE_LIMIT;
  }

  /** A proposal for `relPath`, or null when the folder agrees with the index there. */
  async scan(relPath: string, sink?: ChunkSink): Promise<ScanResult | null> {
    let rel: string;
    try {
      rel = normalizeRelPath(relPath);
    } catch (e) {
      if (e instanceof PathError) return null; // .pickbox/…, or a name we cannot replicate
      throw e;
    }
    let abs: string;
    let st: Stats | null;
    try {
      ({ abs, stat: st } = resolveInsideStat(this.d.root, rel)); // the walk's lstat of the path itself
    } catch (e) {
      if (e instanceof PathError) return null; // under a symlink that leaves the folder
      throw e;
    }
    const entry = liveEntry(this.d.index.get(rel));
    if (!st) {
      if (!entry) return null;
      if (entry.kind === "dir")
        return wrap({ op: "rmdir", path: rel, base: entry.clock, origin: this.d.nodeId });
      return wrap({ op: "delete", path: rel, base: entry.clock, origin: this.d.nodeId, seq: this.nextSeq() });
    }
    if (st.isSymbolicLink()) return null; // never followed, never replicated
    if (st.isDirectory()) {
      const mode = st.mode & 0o7777;
      if (entry?.kind === "dir" && entry.mode === mode) return null;
      if (entry?.kind === "file") return null; // a directory replaced a file: its contents are proposed first
      return wrap({ op: "mkdir", path: rel, mode, base: entry?.clock ?? {}, origin: this.d.nodeId });
    }
    if (!st.isFile()) return null;
    if (entry?.kind === "dir") return null; // a file replaced a directory: wait for its contents to go
    return this.scanFile(rel, abs, st, entry, sink);
  }

  private async scanFile(
    rel: string,
    abs: string,
    st: { size: number; mtimeMs: number; ino: number; mode: number },
    entry: IndexEntry | undefined,
    sink: ChunkSink | undefined,
  ): Promise<ScanResult | null> {
    const { index, chunks: store } = this.d;
    const mode = st.mode & 0o7777;
    // The same test as the watcher's echo filter and the reconcile's (one definition of "unchanged").
    if (entry && agreesWithIndex({ kind: entry.kind, mode: entry.mode, stat: index.getLocalStat(rel) }, st))
      return null;
    if (this.d.isPlacing?.(rel) && this.d.onDeferred) {
      this.d.onDeferred(rel);
      return null;
    }

    if (st.size >= GROWTH_PROBE_MIN_BYTES) this.waitForWriter(rel, abs);
    if (st.size >= GROWTH_PROBE_MIN_BYTES && this.d.growthProbe) {
      await this.d.growthProbe();
      const now = lstatOrNull(abs);
      if (!now || !sameStat(now, st)) {
        throw new ScanRaceError(`${rel} is still being written`);
      }
    }
    // What the version the index has can spare re-reading (a delta scan), else the whole file, on the
    // worker thread when it is large.
    const previous = st.size >= DELTA_SCAN_MIN_BYTES ? this.previousChunks(entry) : null;
    const elsewhere =
      !previous && st.size >= PARALLEL_HASH_MIN_BYTES && this.d.chunkFile ? this.d.chunkFile(abs) : null;
    elsewhere?.size.catch(() => {}); // (the scan's own size check decides)
    // The whole file's hash: beside a cut here, on the worker; beside a cut on the worker, here.
    const whole =
      !elsewhere && st.size >= PARALLEL_HASH_MIN_BYTES && this.d.hashFile ? this.d.hashFile(abs) : null;
    whole?.catch(() => {}); // awaited below, unless the scan fails first
    const hasher = whole ? null : new Bun.CryptoHasher("sha256");
    const hashes: string[] = [];
    const seen = new Set<string>();
    let inline: InlineChunk[] = [];
    let inlineAt: number[] = []; // offsets of the inline chunks
    let deltas: { delta: DeltaChunk; chunk: Chunk; offset: number }[] = [];
    // Where each chunk of the previous version started (a delta scan's edited chunks are deltas of them).
    const prevAt = previous ? startsOf(previous) : null;
    let inlineBytes = 0;
    let overflow = false; // too much new data to inline: store locally, ship out of band
    let pendingStore: Chunk[] = [];
    let pendingAt: number[] = [];
    let pendingBytes = 0;
    // Peers assemble a large file from its pushed chunks as they arrive (see ChunkSink).
    const stage = st.size >= STAGE_MIN_BYTES ? `${this.d.nodeId}:${process.pid}:${++this.stageSeq}` : null;
    // A batch is stored and pushed at once: its bytes are copied into the store at the call, and the
    // store's own write goes on while the peers get the batch and the next one is read (the proposal
    // waits for all of them below).
    const stored: Promise<void>[] = [];
    const handOver = async (chunks: Chunk[], at: number[]) => {
      const put = store.putMany(chunks, { durable: false, hashedHere: true });
      put.catch(() => {}); // awaited below
      stored.push(put);
      await sink?.add(rel, st.size, chunks, stage ? { stage, offsets: at } : undefined);
    };
    const missing: string[] = [];
    let size = 0;
    let checkedAt = 0;
    const chunked = elsewhere?.chunks ?? (previous ? chunkFileAgainst(abs, previous) : chunkFile(abs));
    for await (const c of chunked) {
      hasher?.update(c.data);
      const offset = size;
      size += c.data.length;
      // A file still being written (a large copy in progress) is given up early, not read to the end:
      // the watcher's next event brings it back once it settles.
      if (size > st.size || size - checkedAt >= STORE_BATCH_BYTES) {
        this.d.onBulkBytes?.(size - checkedAt);
        checkedAt = size;
        const now = lstatOrNull(abs);
        if (size > st.size || !now || now.size !== st.size || now.mtimeMs !== st.mtimeMs) {
          throw new ScanRaceError(`${rel} is still being written`);
        }
      }
      hashes.push(c.hash);
      // Only a chunk a committed file refers to is known to be on a quorum; one merely in the local store
      // (e.g. left by a scan that raced a writer) must still travel with this change.
      if (seen.has(c.hash) || index.isChunkReferenced(c.hash)) continue;
      seen.add(c.hash);
      // A reused chunk is a view into the delta reader's buffer, normally only hashed and named (the index
      // references it); one that is kept after all must be a copy.
      if (c.transient) {
        c.data = c.data.slice();
        c.transient = false;
      }
      if (!overflow) {
        // An edited chunk of a file the cluster has travels as its difference from the chunk that
        // started at the same offset in the previous version (a 4 KiB edit costs ~4 KiB, not a chunk).
        const delta = inlineBytes < this.inlineLimit ? await this.deltaAgainst(c, prevAt?.get(offset)) : null;
        const cost = delta ? delta.middle.length : c.data.length;
        if (inlineBytes + cost <= this.inlineLimit) {
          if (delta) deltas.push({ delta, chunk: c, offset });
          else {
            inline.push({ hash: c.hash, data: c.data });
            inlineAt.push(offset);
          }
          inlineBytes += cost;
          continue;
        }
        overflow = true;
        // Everything new goes out of band now, whole.
        pendingStore = [...inline, ...deltas.map((d) => d.chunk)];
        pendingAt = [...inlineAt, ...deltas.map((d) => d.offset)];
        pendingBytes = pendingStore.reduce((n, x) => n + x.data.length, 0);
        missing.push(...pendingStore.map((x) => x.hash));
        inline = [];
        inlineAt = [];
        deltas = [];
        inlineBytes = 0;
      }
      pendingStore.push(c);
      pendingAt.push(offset);
      pendingBytes += c.data.length;
      missing.push(c.hash);
      if (pendingBytes >= STORE_BATCH_BYTES) {
        // Not fsynced here: pushing them to a quorum makes them durable (the push syncs this copy too).
        await handOver(pendingStore, pendingAt);
        pendingStore = [];
        pendingAt = [];
        pendingBytes = 0;
      }
    }
    if (pendingStore.length > 0) await handOver(pendingStore, pendingAt);
    await Promise.all(stored);
    let hash: string;
    if (whole) {
      const w = await whole;
      if (w.size !== st.size) throw new ScanRaceError(`${rel} changed size while it was hashed`);
      hash = w.hash;
    } else {
      hash = hasher!.digest("hex");
    }

    const after = lstatOrNull(abs);
    if (!after?.isFile() || !sameStat(after, st)) {
      throw new ScanRaceError(`${rel} changed while it was scanned`);
    }
    if (size !== st.size) throw new ScanRaceError(`${rel} changed size while it was scanned`);

    // Read the index again: an apply may have committed this very content while we were hashing.
    const current = liveEntry(index.get(rel)) ?? entry;
    if (current && current.kind === "file" && current.hash === hash && current.mode === mode) {
      // Echo of our own apply, or a touch: remember the stat so the next scan is free.
      index.setLocalStat(rel, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
      return null;
    }
    if (this.d.isBeingApplied?.(rel, hash)) return null;
    this.proposed.delete(rel);
    this.proposed.set(rel, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, hash, hashedAt: Date.now() });
    if (this.proposed.size > PROPOSED_MEMORY) this.proposed.delete(this.proposed.keys().next().value!);
    return {
      command: {
        op: "put",
        path: rel,
        kind: "file",
        mode,
        mtimeMs: st.mtimeMs,
        size,
        hash,
        chunks: hashes,
        inline,
        ...(deltas.length > 0 ? { deltas: deltas.map((d) => d.delta) } : {}),
        base: entry?.clock ?? {},
        origin: this.d.nodeId,
        seq: this.nextSeq(),
      },
      missingChunks: missing,
    };
  }

  /** Throws ScanRaceError while someone has the file open for writing, for at most WRITER_WAIT_MS. */
  private waitForWriter(rel: string, abs: string): void {
    if (this.d.openForWriting?.(abs) !== true) {
      this.writing.delete(rel);
      return;
    }
    const now = this.d.now?.() ?? Date.now();
    const since = this.writing.get(rel);
    if (since === undefined) {
      if (this.writing.size >= PROPOSED_MEMORY) this.writing.delete(this.writing.keys().next().value!);
      this.writing.set(rel, now);
    } else if (now - since >= WRITER_WAIT_MS) {
      return; // open for writing for long: scan what is there (its next change brings it back)
    }
    throw new ScanRaceError(`${rel} is open for writing`, WRITER_POLL_MS);
  }

  /** `c` as a difference from chunk `base` (stored here), when that is at most half its size. */
  private async deltaAgainst(c: Chunk, base: string | undefined): Promise<DeltaChunk | null> {
    if (!base || base === c.hash || c.data.length < MIN_DELTA_CHUNK) return null;
    const bytes = await this.d.chunks.get(base);
    if (!bytes) return null;
    const d = deltaOf(c.hash, c.data, base, bytes);
    return d.middle.length * 2 <= c.data.length ? d : null;
  }

  /** The chunks (with sizes) of the version the index holds, when every one of them is stored here. */
  private previousChunks(entry: IndexEntry | undefined): PreviousChunk[] | null {
    if (entry?.kind !== "file" || entry.size < DELTA_SCAN_MIN_BYTES) return null;
    const out: PreviousChunk[] = [];
    for (const hash of entry.chunks) {
      const size = this.d.chunks.sizeOf(hash);
      if (size === null) return null;
      out.push({ hash, size });
    }
    return out;
  }

  /** Whether this scanner recently proposed `rel` (else knownHash has nothing for it). */
  proposedHere(rel: string): boolean {
    return this.proposed.has(rel);
  }

  /**
   * The hash of the bytes at `rel` when they are still exactly what this node last proposed for it (same
   * size, mtime and inode as when it was hashed); undefined otherwise. Lets the apply of our own proposal
   * skip reading the file again (a 64 MiB file is ~100 ms of reading and hashing).
   */
  knownHash(rel: string, st: { size: number; mtimeMs: number; ino: number }): string | undefined {
    const p = this.proposed.get(rel);
    if (!p || p.size !== st.size || p.mtimeMs !== st.mtimeMs || p.ino !== st.ino) return undefined;
    // "Racily clean" (as git calls it): file times tick coarsely (a jiffy), so a second save of the same
    // size right after the hash could carry the same mtime. Only a file already older than that is trusted.
    if (p.mtimeMs > p.hashedAt - RACY_MTIME_MS) return undefined;
    return p.hash;
  }

  /**
   * Reconcile pass over the whole folder (startup, and the periodic backstop for lost watcher events):
   * every path on disk, then every live index entry missing from disk. Parents come before children,
   * deletions of children before their directories.
   */
  async scanAll(): Promise<ScanResult[]> {
    const out: ScanResult[] = [];
    const seen = new Set<string>();
    const visit = async (rel: string) => {
      const dirAbs = rel ? await resolveInside(this.d.root, rel) : this.d.root;
      let names: string[];
      try {
        names = await readdir(dirAbs);
      } catch (e) {
        if ((e as { code?: string }).code === "ENOENT" || (e as { code?: string }).code === "ENOTDIR") return;
        throw e;
      }
      for (const name of names.sort()) {
        if (!rel && name.toLowerCase() === STATE_DIR_NAME) continue;
        const p = rel ? `${rel}/${name}` : name;
        let norm: string;
        try {
          norm = normalizeRelPath(p);
        } catch (e) {
          if (e instanceof PathError) continue;
          throw e;
        }
        seen.add(norm);
        const r = await this.scanQuietly(norm);
        if (r) out.push(r);
        const st = lstatOrNull(path.join(this.d.root, norm));
        if (st?.isDirectory()) await visit(norm);
      }
    };
    await visit("");
    const gone = this.d.index
      .list({})
      .filter((e) => !e.deleted && !seen.has(e.path))
      .map((e) => e.path)
      .sort((a, b) => b.length - a.length || (a < b ? -1 : 1)); // children first
    for (const p of gone) {
      const r = await this.scanQuietly(p);
      if (r) out.push(r);
    }
    return out;
  }

  private async scanQuietly(p: string): Promise<ScanResult | null> {
    try {
      return await this.scan(p);
    } catch (e) {
      if (e instanceof ScanRaceError) return null; // still being written; the watcher will report it
      throw e;
    }
  }

  private nextSeq(): number {
    return this.d.nextSeq ? this.d.nextSeq() : ++this.seq;
  }
}

function wrap(command: LeafCommand): ScanResult {
  return { command, missingChunks: [] };
}

/**
 * lstat, null when nothing is there. Synchronous: a microsecond syscall on a local disk, against a
 * thread-pool round trip for the async call (two per scan, and every write on every node is scanned).
 */
function lstatOrNull(abs: string): Stats | null {
  try {
    return lstatSync(abs);
  } catch (e) {
    const c = (e as { code?: string }).code;
    if (c === "ENOENT" || c === "ENOTDIR") return null;
    throw e;
  }
}

/** Offset in the file → hash of the chunk starting there. */
function startsOf(chunks: PreviousChunk[]): Map<number, string> {
  const out = new Map<number, string>();
  let off = 0;
  for (const c of chunks) {
    out.set(off, c.hash);
    off += c.size;
  }
  return out;
}
