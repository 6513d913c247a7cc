// Content-addressed chunk store: one file per chunk at <dir>/<hash[0..2]>/<hash>, named by the SHA-256 of
// its bytes. Bulk bytes live in files rather than in the FULL-sync sqlite log (see design.md, measured
// numbers). A chunk is durable once putMany resolves: written to a temp file, fsynced, renamed into place,
// and the directory fsynced, so a crash leaves either the whole chunk or nothing under its name.
import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { mkdir, open, readFile, rename, stat, unlink, utimes } from "node:fs/promises";
import path from "node:path";
import { type Chunk, sha256Hex } from "./chunker.ts";

export interface ChunkStoreOptions {
  /** Clock for chunk ages (GC); defaults to Date.now. */
  now?: () => number;
  /** How many chunk files are written at once in putMany. */
  writeConcurrency?: number;
}

/** Unreferenced chunks younger than this survive GC: they may belong to a proposal not yet committed. */
export const DEFAULT_GC_MIN_AGE_MS = 10 * 60_000;

const HASH_RE = /^[0-9a-f]{64}$/;
const TMP_MARK = ".tmp-";

export function isChunkHash(hash: string): boolean {
  return typeof hash === "string" && HASH_RE.test(hash);
}

export class ChunkHashMismatchError extends Error {
  override name = "ChunkHashMismatchError";
}

export class ChunkStore {
  readonly dir: string;
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly sizes = new Map<string, number>(); // hash -> bytes, for has() and stats()
  private readonly shards = new Set<string>(); // shard directories known to exist durably
  private readonly inflight = new Map<string, Promise<void>>(); // hash -> the write that makes it durable
  private totalBytes = 0;
  private tmpSeq = 0;

  constructor(dir: string, opts: ChunkStoreOptions = {}) {
    this.dir = path.resolve(dir);
    this.now = opts.now ?? Date.now;
    this.concurrency = Math.max(1, opts.writeConcurrency ?? 8);
    mkdirSync(this.dir, { recursive: true });
    this.load();
  }

  /** Whether the chunk is stored. Sync and cheap: the in-memory set, then the disk for chunks put by others. */
  has(hash: string): boolean {
    if (this.sizes.has(hash)) return true;
    if (!isChunkHash(hash) || this.inflight.has(hash)) return false; // not durable yet

    const file = this.pathOf(hash);
    if (!existsSync(file)) return false;
    this.remember(hash, statSync(file).size);
    return true;
  }

  /**
   * The chunk's bytes, or null if it is missing. The bytes are verified against the name: a corrupt file
   * (bit rot, a torn copy made outside the store) is removed and reported as missing, so the caller
   * fetches the chunk again from a peer instead of materialising wrong content.
   */
  async get(hash: string): Promise<Uint8Array | null> {
    if (!isChunkHash(hash)) return null;
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(this.pathOf(hash)));
    } catch (e) {
      if (isMissing(e)) {
        this.forget(hash);
        return null;
      }
      throw e;
    }
    if (sha256Hex(data) !== hash) {
      await this.delete(hash);
      return null;
    }
    return data;
  }

  /** Path of a chunk's file (whether or not it exists). */
  pathOf(hash: string): string {
    if (!isChunkHash(hash)) throw new ChunkHashMismatchError(`not a chunk hash: ${JSON.stringify(hash)}`);
    return path.join(this.dir, hash.slice(0, 2), hash);
  }

  /**
   * Stores chunks durably. Every hash is verified before anything is written (a mismatch throws and
   * stores nothing); chunks already present are only touched (their age restarts, so GC spares them
   * while the proposal that re-uses them is in flight).
   */
  async putMany(chunks: Chunk[]): Promise<void> {
    const todo = new Map<string, Uint8Array>();
    for (const c of chunks) {
      if (!isChunkHash(c.hash))
        throw new ChunkHashMismatchError(`not a chunk hash: ${JSON.stringify(c.hash)}`);
      const actual = sha256Hex(c.data);
      if (actual !== c.hash) {
        throw new ChunkHashMismatchError(
          `chunk ${c.hash} has content hashing to ${actual} (${c.data.length} bytes)`,
        );
      }
      todo.set(c.hash, c.data);
    }
    const fresh: Array<[string, Uint8Array]> = [];
    const touched: string[] = [];
    const others = new Set<Promise<void>>(); // concurrent putMany calls already writing some of ours
    for (const [hash, data] of todo) {
      const pending = this.inflight.get(hash);
      if (pending) others.add(pending);
      else if (this.has(hash)) touched.push(hash);
      else fresh.push([hash, data]);
    }
    const nowSec = this.now() / 1000;
    await Promise.all(touched.map((h) => utimes(this.pathOf(h), nowSec, nowSec).catch(() => {})));
    if (fresh.length > 0) {
      const mine = this.writeFresh(fresh, nowSec);
      const settled = mine.catch(() => {});
      for (const [hash] of fresh) this.inflight.set(hash, settled);
      try {
        await mine;
      } finally {
        for (const [hash] of fresh) if (this.inflight.get(hash) === settled) this.inflight.delete(hash);
      }
    }
    // If another call's write failed, it threw there; ours must not claim durability: recheck.
    await Promise.all(others);
    const lost = [...todo].filter(([h]) => !this.has(h));
    if (lost.length > 0) await this.putMany(lost.map(([hash, data]) => ({ hash, data })));
  }

  private async writeFresh(fresh: Array<[string, Uint8Array]>, nowSec: number): Promise<void> {
    const newShards = new Set<string>();
    for (const [hash] of fresh) {
      const shard = hash.slice(0, 2);
      if (this.shards.has(shard)) continue;
      await mkdir(path.join(this.dir, shard), { recursive: true });
      newShards.add(shard);
    }
    const dirtyShards = new Set<string>();
    let next = 0;
    const worker = async () => {
      while (next < fresh.length) {
        const [hash, data] = fresh[next++]!;
        await this.writeOne(hash, data, nowSec);
        dirtyShards.add(hash.slice(0, 2));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, fresh.length) }, worker));
    // The renames are durable once their directories are; a new shard also needs its parent entry synced.
    await Promise.all([...dirtyShards].map((s) => fsyncDir(path.join(this.dir, s))));
    if (newShards.size > 0) await fsyncDir(this.dir);
    for (const s of newShards) this.shards.add(s);
    for (const [hash, data] of fresh) this.remember(hash, data.length);
  }

  async delete(hash: string): Promise<void> {
    if (!isChunkHash(hash)) return;
    try {
      await unlink(this.pathOf(hash));
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    this.forget(hash);
  }

  /**
   * Removes every chunk that `isReferenced` does not claim and that is older than `minAgeMs` by the
   * store's clock (age = time since it was written or last re-put).
   */
  async gc(
    isReferenced: (hash: string) => boolean,
    minAgeMs: number = DEFAULT_GC_MIN_AGE_MS,
  ): Promise<{ removed: number; bytes: number }> {
    const cutoff = this.now() - minAgeMs;
    let removed = 0;
    let bytes = 0;
    for (const hash of [...this.sizes.keys()]) {
      if (isReferenced(hash)) continue;
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(this.pathOf(hash));
      } catch (e) {
        if (!isMissing(e)) throw e;
        this.forget(hash);
        continue;
      }
      if (st.mtimeMs > cutoff) continue;
      if (isReferenced(hash)) continue; // may have become referenced while we awaited
      await this.delete(hash);
      removed++;
      bytes += st.size;
    }
    return { removed, bytes };
  }

  stats(): { chunks: number; bytes: number } {
    return { chunks: this.sizes.size, bytes: this.totalBytes };
  }

  /** Every stored chunk hash (a snapshot of the in-memory set). */
  hashes(): string[] {
    return [...this.sizes.keys()];
  }

  private async writeOne(hash: string, data: Uint8Array, mtimeSec: number): Promise<void> {
    const final = this.pathOf(hash);
    const tmp = `${final}${TMP_MARK}${process.pid}-${++this.tmpSeq}`;
    const fh = await open(tmp, "wx");
    try {
      let off = 0;
      while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
      await fh.utimes(mtimeSec, mtimeSec);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    await rename(tmp, final);
  }

  /** Index what is on disk; temp files are leftovers of a crash mid-write and are removed. */
  private load(): void {
    for (const shard of readdirSync(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const shardDir = path.join(this.dir, shard);
      if (!statSync(shardDir).isDirectory()) continue;
      this.shards.add(shard);
      for (const name of readdirSync(shardDir)) {
        const file = path.join(shardDir, name);
        if (name.includes(TMP_MARK)) {
          unlinkSync(file);
          continue;
        }
        if (!isChunkHash(name) || name.slice(0, 2) !== shard) continue;
        this.remember(name, statSync(file).size);
      }
    }
  }

  private remember(hash: string, size: number): void {
    const old = this.sizes.get(hash);
    if (old !== undefined) this.totalBytes -= old;
    this.sizes.set(hash, size);
    this.totalBytes += size;
  }

  private forget(hash: string): void {
    const old = this.sizes.get(hash);
    if (old === undefined) return;
    this.totalBytes -= old;
    this.sizes.delete(hash);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
