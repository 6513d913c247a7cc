// Content-addressed chunk store: one file per chunk at <dir>/<hash[0..2]>/<hash>, named by the SHA-256 of
// its bytes. Bulk bytes live in files rather than in the FULL-sync sqlite log (see design.md, measured
// numbers). A durable putMany (the default) resolves once every chunk is written to a temp file, fsynced,
// renamed into place and its directory fsynced: a crash leaves the whole chunk or nothing under its name.
// putMany(chunks, { durable: false }) is for bytes that are durable elsewhere already (inline in the
// committed raft log): it only writes and renames, and sync() makes such chunks durable later, at the
// FSM's checkpoint. A chunk torn by a power cut under its name fails get()'s hash check and is fetched
// again.
//
// Small chunks (whole small files, tails of large ones) go to a table of the node's sqlite database when
// one is given: a row in a transaction instead of a file to create, which costs a journal round on the
// file system each (the dominant cost of a burst of small files). Rows are durable when putMany resolves.
import type { Database, Statement } from "bun:sqlite";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { readFile, stat, unlink, utimes } from "node:fs/promises";
import path from "node:path";
import { type Chunk, sha256Hex } from "./chunker.ts";
import { deferredCommit } from "./deferred-commit.ts";
import { syncPaths } from "./materializer.ts";

export interface ChunkStoreOptions {
  /** Clock for chunk ages (GC); defaults to Date.now. */
  now?: () => number;
  /** Where small chunks live (table cs_small); without it every chunk is a file. */
  db?: Database;
  smallChunkBytes?: number;
}

interface SmallTable {
  get: Statement;
  put: Statement;
  touch: Statement;
  age: Statement;
  remove: Statement;
  transaction: <T>(fn: () => T, durable: boolean) => T;
}

/** Chunks up to this size go to the database when there is one (FastCDC's minimum chunk size). */
export const DEFAULT_SMALL_CHUNK_BYTES = 16 * 1024;

export interface PutOptions {
  /** Wait until the chunks are on disk (fsync). Default true; false defers that to sync(). */
  durable?: boolean;
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
  /** Chunk files and shard directories written without fsync since the last sync(). */
  private unsyncedFiles = new Set<string>();
  private unsyncedDirs = new Set<string>();
  private readonly sizes = new Map<string, number>(); // hash -> bytes, for has() and stats()
  private readonly shards = new Set<string>(); // shard directories known to exist durably
  private readonly inflight = new Map<string, Promise<void>>(); // hash -> the write that makes it durable
  private totalBytes = 0;
  private tmpSeq = 0;
  private readonly small: SmallTable | null;
  private readonly smallBytes: number;
  private readonly inTable = new Set<string>();
  private readonly db: Database | null;
  /** Rows committed without fsync since the last sync(). */
  private deferredRows = 0;

  constructor(dir: string, opts: ChunkStoreOptions = {}) {
    this.dir = path.resolve(dir);
    this.now = opts.now ?? Date.now;
    this.smallBytes = opts.smallChunkBytes ?? DEFAULT_SMALL_CHUNK_BYTES;
    this.small = opts.db ? openSmallTable(opts.db) : null;
    this.db = opts.db ?? null;
    mkdirSync(this.dir, { recursive: true });
    this.load();
    if (opts.db) {
      for (const r of opts.db.query("SELECT hash, length(data) AS n FROM cs_small").all() as {
        hash: string;
        n: number;
      }[]) {
        this.inTable.add(r.hash);
        this.remember(r.hash, r.n);
      }
    }
  }

  /** Stored size of a chunk, or null when it is not stored. */
  sizeOf(hash: string): number | null {
    return this.has(hash) ? (this.sizes.get(hash) ?? null) : null;
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
    if (this.small && this.inTable.has(hash)) {
      const row = this.small.get.get(hash) as { data: Uint8Array } | null;
      if (row && sha256Hex(row.data) === hash) return new Uint8Array(row.data);
      await this.delete(hash);
      return null;
    }
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
  async putMany(chunks: Chunk[], opts: PutOptions = {}): Promise<void> {
    const durable = opts.durable ?? true;
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
    let fresh: Array<[string, Uint8Array]> = [];
    const touched: string[] = [];
    const others = new Set<Promise<void>>(); // concurrent putMany calls already writing some of ours
    for (const [hash, data] of todo) {
      const pending = this.inflight.get(hash);
      if (pending) others.add(pending);
      else if (this.has(hash)) touched.push(hash);
      else fresh.push([hash, data]);
    }
    const nowSec = this.now() / 1000;
    const touchedFiles = touched.filter((h) => !this.inTable.has(h));
    await Promise.all(touchedFiles.map((h) => utimes(this.pathOf(h), nowSec, nowSec).catch(() => {})));
    const small = this.small;
    const toTable = small ? fresh.filter(([, d]) => d.length <= this.smallBytes) : [];
    if (small && (toTable.length > 0 || touchedFiles.length < touched.length)) {
      const ms = Math.round(this.now());
      small.transaction(() => {
        for (const h of touched) if (this.inTable.has(h)) small.touch.run(ms, h);
        for (const [h, d] of toTable) small.put.run(h, d, ms);
      }, durable);
      if (!durable) this.deferredRows += toTable.length;
      for (const [h, d] of toTable) {
        this.inTable.add(h);
        this.remember(h, d.length);
      }
      fresh = fresh.filter(([, d]) => d.length > this.smallBytes);
    }
    if (fresh.length > 0) {
      const mine = this.writeFresh(fresh, nowSec, durable);
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
    if (lost.length > 0)
      await this.putMany(
        lost.map(([hash, data]) => ({ hash, data })),
        opts,
      );
    // A durable put must not lean on a chunk another caller wrote without fsync.
    if (durable && this.unsyncedFiles.size > 0) {
      const mineUnsynced = [...todo.keys()]
        .map((h) => this.pathOf(h))
        .filter((f) => this.unsyncedFiles.has(f));
      if (mineUnsynced.length > 0) {
        await syncPaths(mineUnsynced, [...new Set(mineUnsynced.map((f) => path.dirname(f)))]);
        for (const f of mineUnsynced) this.unsyncedFiles.delete(f);
      }
    }
  }

  /** Makes every chunk put with durable: false so far durable (the FSM's checkpoint). */
  async sync(): Promise<void> {
    const files = [...this.unsyncedFiles];
    const dirs = [...this.unsyncedDirs];
    this.unsyncedFiles = new Set();
    this.unsyncedDirs = new Set();
    if (this.db && this.deferredRows > 0) {
      // With synchronous=FULL a checkpoint first syncs the WAL, and with it the deferred rows.
      this.deferredRows = 0;
      this.db.run("PRAGMA wal_checkpoint(PASSIVE)");
    }
    await syncPaths(files, dirs);
  }

  /**
   * Writes temp files (plain synchronous writes: microseconds each, no thread-pool round trip), then,
   * when durable, fsyncs them all at once; renames them into place; then fsyncs their directories (a
   * new shard also needs its parent entry). Not durable: the paths wait for sync().
   */
  private async writeFresh(
    fresh: Array<[string, Uint8Array]>,
    nowSec: number,
    durable: boolean,
  ): Promise<void> {
    const newShards = new Set<string>();
    for (const [hash] of fresh) {
      const shard = hash.slice(0, 2);
      if (this.shards.has(shard) || newShards.has(shard)) continue;
      mkdirSync(path.join(this.dir, shard), { recursive: true });
      newShards.add(shard);
    }
    const tmps: string[] = [];
    try {
      for (const [hash, data] of fresh) tmps.push(this.writeTmp(hash, data, nowSec));
      if (durable) await syncPaths(tmps, []);
    } catch (e) {
      for (const t of tmps) unlinkQuietly(t);
      throw e;
    }
    const dirtyShards = new Set<string>();
    fresh.forEach(([hash], i) => {
      renameSync(tmps[i]!, this.pathOf(hash));
      dirtyShards.add(path.join(this.dir, hash.slice(0, 2)));
    });
    const dirs = [...dirtyShards];
    if (newShards.size > 0) dirs.push(this.dir);
    if (durable) {
      await syncPaths([], dirs);
    } else {
      for (const [hash] of fresh) this.unsyncedFiles.add(this.pathOf(hash));
      for (const d of dirs) this.unsyncedDirs.add(d);
    }
    for (const s of newShards) this.shards.add(s);
    for (const [hash, data] of fresh) this.remember(hash, data.length);
  }

  async delete(hash: string): Promise<void> {
    if (!isChunkHash(hash)) return;
    if (this.small && this.inTable.has(hash)) {
      this.small.remove.run(hash);
      this.inTable.delete(hash);
      this.forget(hash);
      return;
    }
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
      if (this.small && this.inTable.has(hash)) {
        const row = this.small.age.get(hash) as { touched: number } | null;
        if (row && row.touched > cutoff) continue;
        bytes += this.sizes.get(hash) ?? 0;
        await this.delete(hash);
        removed++;
        continue;
      }
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

  private writeTmp(hash: string, data: Uint8Array, mtimeSec: number): string {
    const tmp = `${this.pathOf(hash)}${TMP_MARK}${process.pid}-${++this.tmpSeq}`;
    const fd = openSync(tmp, "wx");
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      closeSync(fd);
      unlinkQuietly(tmp);
      throw e;
    }
    closeSync(fd);
    utimesSync(tmp, mtimeSec, mtimeSec);
    return tmp;
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

function openSmallTable(db: Database): SmallTable {
  db.run(
    "CREATE TABLE IF NOT EXISTS cs_small (hash TEXT PRIMARY KEY, data BLOB NOT NULL, touched INTEGER NOT NULL) WITHOUT ROWID",
  );
  return {
    get: db.prepare("SELECT data FROM cs_small WHERE hash = ?"),
    put: db.prepare("INSERT OR IGNORE INTO cs_small (hash, data, touched) VALUES (?, ?, ?)"),
    touch: db.prepare("UPDATE cs_small SET touched = ? WHERE hash = ?"),
    age: db.prepare("SELECT touched FROM cs_small WHERE hash = ?"),
    remove: db.prepare("DELETE FROM cs_small WHERE hash = ?"),
    transaction: <T>(fn: () => T, durable: boolean) =>
      durable ? db.transaction(fn)() : deferredCommit(db, fn),
  };
}

function unlinkQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {}
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
