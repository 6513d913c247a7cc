// Content-addressed chunk store, named by the SHA-256 of each chunk's bytes, with its index in the node's
// sqlite database (WAL). Two homes for the bytes:
// - small chunks (whole small files, tails of large ones) are rows of cs_small: a row in a transaction
//   costs far less than a file to create (each creation is a journal round of the file system);
// - larger chunks are appended to pack files (<dir>/packs/p-<n>.pack) and located by cs_packed rows:
//   storing 8 MiB of chunks is one append and one fdatasync, not a hundred files to create and sync.
//   Bulk bytes stay out of the FULL-sync sqlite log (design.md's measurements). Packs are written and
//   read with direct I/O where the file system allows (direct-io.ts): bulk bytes pass through the page
//   cache nowhere, which on this kind of VM is most of what storing them would cost.
//
// A durable putMany (the default) resolves once the bytes are on disk (pack fdatasync, then the rows in a
// FULL commit). putMany(chunks, { durable: false }) is for bytes already durable elsewhere (inline in the
// committed raft log, or on the peers that pushed them): no fsync; sync() makes them durable later, at
// the FSM's checkpoint. Every read is verified against the hash: bytes a power cut tore under a row are
// reported missing and fetched again. gc() drops unreferenced chunks and compacts packs that became
// mostly garbage. One ChunkStore instance owns the tables: what is stored is known from memory.
import type { Database, Statement } from "bun:sqlite";
import {
  closeSync,
  constants,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
} from "node:fs";
import path from "node:path";
import { deferredCommit } from "../raft/storage/deferred-commit.ts";
import { AlignedAppender, APPEND_BUFFER_BYTES } from "./aligned-appender.ts";
import { type Chunk, sha256Hex } from "./chunker.ts";
import { alignDown, alignUp, openDirect, readDirect, readFully, writeFullySync } from "./direct-io.ts";

export interface ChunkStoreOptions {
  /** The node's database (tables cs_small and cs_packed live there). */
  db: Database;
  /** Clock for chunk ages (GC); defaults to Date.now. */
  now?: () => number;
  /** Chunks up to this size are rows (default: FastCDC's minimum chunk size). */
  smallChunkBytes?: number;
  /** A pack is closed for appends at this size (default 256 MiB). */
  packBytes?: number;
  /** fdatasync in the thread pool (node:fs's); a seam so tests can see when packs are synced. */
  fdatasync?: (fd: number, done: (err: Error | null) => void) => void;
  /** Write and read packs with O_DIRECT where the file system supports it (default true). */
  directIo?: boolean;
}

export interface PutOptions {
  /** Wait until the chunks are on disk (fsync). Default true; false defers that to sync(). */
  durable?: boolean;
  /** The caller computed every hash from these very bytes (a local scan): skip hashing them again.
   * Chunks from a peer are always checked. */
  hashedHere?: boolean;
}

/** Unreferenced chunks younger than this survive GC: they may belong to a proposal not yet committed. */
export const DEFAULT_GC_MIN_AGE_MS = 10 * 60_000;
export const DEFAULT_SMALL_CHUNK_BYTES = 16 * 1024;
const DEFAULT_PACK_BYTES = 256 * 1024 * 1024;
/** A closed pack whose live bytes fall below this share is rewritten by gc(). */
const COMPACT_BELOW = 0.5;
/** Pack files kept open at once (a terabyte of 256 MiB packs would otherwise exceed the fd limit). */
const MAX_OPEN_PACKS = 64;
/** Bytes appended to a pack without fsync after which an fdatasync starts in the background: the disk
 * writes while the rest arrives, so the sync a push ends with finds little left to flush. */
const BACKGROUND_SYNC_BYTES = 8 * 1024 * 1024;

const HASH_RE = /^[0-9a-f]{64}$/;
const PACK_RE = /^p-(\d+)\.pack$/;

export function isChunkHash(hash: string): boolean {
  return typeof hash === "string" && HASH_RE.test(hash);
}

export class ChunkHashMismatchError extends Error {
  override name = "ChunkHashMismatchError";
}

interface Located {
  pack: number;
  off: number;
  len: number;
  /** Written by this process after its hash was checked: reading it back needs no second check (a torn
   * write or rot from before a restart is what get() guards against; neither happens within a run). */
  checked?: true;
}

interface Pack {
  /** Open file descriptor, or null while closed (see MAX_OPEN_PACKS). */
  fd: number | null;
  /** The descriptor was opened with O_DIRECT. */
  direct: boolean;
  /** Bytes appended through a direct descriptor gather here (the pack appended to, until synced). */
  appender: AlignedAppender | null;
  size: number;
  live: number;
  /** Appended to since its last fdatasync. */
  dirty: boolean;
  /** Bytes appended since the last fdatasync started. */
  unsynced: number;
  /** fdatasyncs in flight on its descriptor (it must stay open meanwhile). */
  syncing: number;
  /** The latest fdatasync in flight: a sync asked for meanwhile must wait for it, not take the clean
   * flag (cleared when that fdatasync started) as done. */
  lastSync: Promise<void> | null;
}

interface Queries {
  smallGet: Statement;
  smallPut: Statement;
  smallTouch: Statement;
  smallAge: Statement;
  smallDel: Statement;
  packedPut: Statement;
  packedTouch: Statement;
  packedAge: Statement;
  packedDel: Statement;
}

export class ChunkStore {
  readonly dir: string;
  private readonly packDir: string;
  private readonly db: Database;
  private readonly q: Queries;
  private readonly now: () => number;
  private readonly smallBytes: number;
  private readonly packLimit: number;
  private readonly fdatasync: NonNullable<ChunkStoreOptions["fdatasync"]>;
  private readonly directIo: boolean;
  private readonly small = new Map<string, number>(); // hash -> bytes
  private readonly packed = new Map<string, Located>();
  private readonly packs = new Map<number, Pack>();
  private current = 0; // the pack appended to
  private readonly inflight = new Map<string, Promise<void>>(); // hash -> the putMany storing it
  private totalBytes = 0;
  /** Rows committed without fsync since the last sync(). */
  private deferredRows = 0;
  /** Inside the constructor's migration of an old store: appends are written at once (nothing awaits). */
  private migrating = false;

  constructor(dir: string, opts: ChunkStoreOptions) {
    this.dir = path.resolve(dir);
    this.packDir = path.join(this.dir, "packs");
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.smallBytes = opts.smallChunkBytes ?? DEFAULT_SMALL_CHUNK_BYTES;
    this.packLimit = opts.packBytes ?? DEFAULT_PACK_BYTES;
    this.fdatasync = opts.fdatasync ?? fdatasync;
    this.directIo = opts.directIo ?? true;
    mkdirSync(this.packDir, { recursive: true });
    this.q = prepare(this.db);
    this.load();
  }

  /** Stored size of a chunk, or null when it is not stored. */
  sizeOf(hash: string): number | null {
    return this.small.get(hash) ?? this.packed.get(hash)?.len ?? null;
  }

  /** Whether the chunk is stored: memory only. The maps hold every row (loaded at open, kept in step by
   * every write), because one store instance owns its tables; asking the database on a miss cost two
   * queries for every new chunk an apply stored. */
  has(hash: string): boolean {
    return this.small.has(hash) || this.packed.has(hash);
  }

  /**
   * The chunk's bytes, or null if it is missing. The bytes are verified against the name: corrupt bytes
   * (bit rot, a write torn by a power cut) are dropped and reported as missing, so the caller fetches the
   * chunk again from a peer instead of materialising wrong content.
   */
  async get(hash: string): Promise<Uint8Array | null> {
    const data = this.readUnchecked(hash);
    if (data && (this.packed.get(hash)?.checked || sha256Hex(data) === hash)) return data;
    if (this.has(hash)) await this.delete(hash);
    return null;
  }

  /** The stored bytes of `hash`, not yet checked against it (null when missing or cut short). */
  private readUnchecked(hash: string): Uint8Array | null {
    if (!this.has(hash)) return null;
    let data: Uint8Array | null = null;
    if (this.small.has(hash)) {
      const row = this.q.smallGet.get(hash) as { data: Uint8Array } | null;
      data = row ? new Uint8Array(row.data) : null;
    } else {
      const at = this.packed.get(hash)!;
      const pack = this.packs.get(at.pack);
      if (pack && at.off + at.len <= pack.size) {
        const read = this.readPack(at.pack, pack, at.off, at.len);
        data = read.length === at.len ? read : null;
      }
    }
    return data;
  }

  /**
   * Reads the chunks `hashes[from..]` that lie back to back in one pack, as many as fit, into `buf` with
   * one read, each verified as get() verifies it: a file's chunks arrive in order, so a large file is
   * mostly one run, read without a fresh buffer per chunk. Stops before the first chunk that is not
   * packed right after the previous one, does not fit or fails its check (0 chunks: use get()). `data`
   * views the run's bytes inside `buf`, which must come from alignedBuffer() (a direct read needs an
   * aligned buffer, and room for the aligned blocks around the run: see runFits).
   */
  readRun(
    hashes: readonly string[],
    from: number,
    buf: Uint8Array,
  ): { chunks: number; bytes: number; data: Uint8Array } {
    const none = { chunks: 0, bytes: 0, data: buf.subarray(0, 0) };
    const first =
      from < hashes.length && this.has(hashes[from]!) ? this.packed.get(hashes[from]!) : undefined;
    const pack = first && this.packs.get(first.pack);
    if (!first || !pack) return none;
    this.fdOf(first.pack, pack); // (whether reads are direct is known once it is open)
    const direct = pack.direct;
    const run: Located[] = [];
    let end = first.off;
    for (let i = from; i < hashes.length; i++) {
      const at = this.has(hashes[i]!) ? this.packed.get(hashes[i]!) : undefined;
      if (!at || at.pack !== first.pack || at.off !== end) break;
      if (!runFits(first.off, at.off + at.len, buf.length, direct)) break;
      run.push(at);
      end = at.off + at.len;
    }
    if (run.length === 0) return none;
    const read = this.readPack(first.pack, pack, first.off, Math.min(end, pack.size) - first.off, buf);
    let chunks = 0;
    for (const at of run) {
      const rel = at.off - first.off;
      if (rel + at.len > read.length) break;
      if (!at.checked && sha256Hex(read.subarray(rel, rel + at.len)) !== hashes[from + chunks]) break;
      chunks++;
    }
    const last = run[chunks - 1];
    const bytes = last ? last.off + last.len - first.off : 0;
    return { chunks, bytes, data: read.subarray(0, bytes) };
  }

  /**
   * The `len` bytes at `off` of pack `n` (fewer only where the pack ends), read into `buf` when given
   * (see readRun) or else a fresh buffer; the result views them.
   */
  private readPack(n: number, pack: Pack, off: number, len: number, buf?: Uint8Array): Uint8Array {
    const fd = this.fdOf(n, pack);
    if (pack.direct) {
      const { data, got } = readDirect(fd, off, len, buf);
      // The last bytes appended may still be only in the appender's buffer.
      const have = pack.appender ? Math.min(len, Math.max(got, pack.appender.end - off)) : got;
      const out = data.subarray(0, have);
      pack.appender?.overlay(out, off);
      return out;
    }
    const into = buf ?? new Uint8Array(len);
    return into.subarray(0, readFully(fd, into, len, off));
  }

  /** Where a packed chunk's bytes are (for tools and tests); null for rows and missing chunks. */
  locationOf(hash: string): { file: string; offset: number; length: number } | null {
    const at = this.packed.get(hash);
    return at ? { file: this.packPath(at.pack), offset: at.off, length: at.len } : null;
  }

  /**
   * Stores chunks. Every hash is verified before anything is written (a mismatch throws and stores
   * nothing); chunks already present are only touched (their age restarts, so GC spares them while the
   * proposal that re-uses them is in flight).
   */
  async putMany(chunks: Chunk[], opts: PutOptions = {}): Promise<void> {
    const durable = opts.durable ?? true;
    const todo = new Map<string, Uint8Array>();
    for (const c of chunks) {
      if (!isChunkHash(c.hash))
        throw new ChunkHashMismatchError(`not a chunk hash: ${JSON.stringify(c.hash)}`);
      const actual = opts.hashedHere ? c.hash : sha256Hex(c.data);
      if (actual !== c.hash) {
        throw new ChunkHashMismatchError(
          `chunk ${c.hash} has content hashing to ${actual} (${c.data.length} bytes)`,
        );
      }
      todo.set(c.hash, c.data);
    }
    const ms = Math.round(this.now());
    const touched: string[] = [];
    const rows: Array<[string, Uint8Array]> = [];
    const appended: Array<[string, Located]> = [];
    const others = new Map<string, Promise<void>>(); // being stored by a concurrent putMany
    // Everything up to the row commit below is synchronous: no other putMany interleaves with it.
    for (const [hash, data] of todo) {
      const pending = this.inflight.get(hash);
      if (pending) others.set(hash, pending);
      else if (this.has(hash)) touched.push(hash);
      else if (data.length <= this.smallBytes) rows.push([hash, data]);
      else appended.push([hash, this.append(data)]);
    }
    // (A batch of only large new chunks has no row to write yet: no empty transaction.)
    if (rows.length + touched.length > 0)
      this.commitRows(durable, () => {
        for (const [hash, data] of rows) this.q.smallPut.run(hash, data, ms);
        for (const hash of touched) {
          if (this.small.has(hash)) this.q.smallTouch.run(ms, hash);
          else this.q.packedTouch.run(ms, hash);
        }
      });
    for (const [hash, data] of rows) {
      this.small.set(hash, data.length);
      this.totalBytes += data.length;
    }
    if (rows.length > 0 && !durable) this.deferredRows += rows.length;
    // Packed chunks are known (has() true) once their bytes are synced as asked and their rows committed.
    if (appended.length > 0) {
      const packs = [...new Set(appended.map(([, at]) => at.pack))];
      const mine = (async () => {
        // In the file before the rows name them (the appender writes behind this thread meanwhile).
        await this.flushPacks(packs);
        if (durable) await this.syncPacks(packs);
        this.commitRows(durable, () => {
          for (const [hash, at] of appended) this.q.packedPut.run(hash, at.pack, at.off, at.len, ms);
        });
        if (!durable) this.deferredRows += appended.length;
        for (const [hash, at] of appended) this.addPacked(hash, at);
      })();
      const settled = mine.catch(() => {});
      for (const [hash] of appended) this.inflight.set(hash, settled);
      try {
        await mine;
      } finally {
        for (const [hash] of appended) if (this.inflight.get(hash) === settled) this.inflight.delete(hash);
      }
    }
    if (others.size > 0) {
      await Promise.all(others.values());
      const lost = [...others.keys()].filter((h) => !this.has(h));
      if (lost.length > 0)
        await this.putMany(
          lost.map((h) => ({ hash: h, data: todo.get(h)! })),
          opts,
        );
    }
    if (durable) {
      // Chunks that were already here may sit in packs or rows written without fsync by another caller.
      const reused = [...touched, ...others.keys()];
      await this.syncPacks([...new Set(reused.flatMap((h) => this.packed.get(h)?.pack ?? []))]);
      if (reused.length > 0 && this.deferredRows > 0) {
        this.commitRows(true, () => {
          for (const h of reused) (this.small.has(h) ? this.q.smallTouch : this.q.packedTouch).run(ms, h);
        });
      }
    }
  }

  /** A FULL-sync transaction when durable, else one whose commit waits for no fsync. */
  private commitRows(durable: boolean, fn: () => void): void {
    if (durable) this.db.transaction(fn)();
    else deferredCommit(this.db, fn);
  }

  /** Makes every chunk put with durable: false so far durable (the FSM's checkpoint). */
  async sync(): Promise<void> {
    await this.syncPacks([...this.packs.keys()]);
    if (this.deferredRows > 0) {
      // With synchronous=FULL a WAL checkpoint first syncs the WAL, and with it the deferred rows.
      this.deferredRows = 0;
      this.db.run("PRAGMA wal_checkpoint(PASSIVE)");
    }
  }

  async delete(hash: string): Promise<void> {
    if (!isChunkHash(hash)) return;
    const n = this.small.get(hash);
    if (n !== undefined) {
      this.q.smallDel.run(hash);
      this.small.delete(hash);
      this.totalBytes -= n;
      return;
    }
    const at = this.packed.get(hash);
    this.q.packedDel.run(hash);
    if (!at) return;
    this.packed.delete(hash);
    this.totalBytes -= at.len;
    const pack = this.packs.get(at.pack);
    if (pack) pack.live -= at.len;
  }

  /**
   * Removes every chunk that `isReferenced` does not claim and that is older than `minAgeMs` by the
   * store's clock (age = time since it was written or last re-put); then rewrites closed packs that
   * became mostly garbage and deletes empty ones.
   */
  async gc(
    isReferenced: (hash: string) => boolean,
    minAgeMs: number = DEFAULT_GC_MIN_AGE_MS,
  ): Promise<{ removed: number; bytes: number }> {
    const cutoff = this.now() - minAgeMs;
    let removed = 0;
    let bytes = 0;
    for (const hash of this.hashes()) {
      if (isReferenced(hash)) continue;
      const isSmall = this.small.has(hash);
      const row = (isSmall ? this.q.smallAge : this.q.packedAge).get(hash) as { touched: number } | null;
      if (row && row.touched > cutoff) continue;
      bytes += this.sizeOf(hash) ?? 0;
      await this.delete(hash);
      removed++;
    }
    await this.compact();
    return { removed, bytes };
  }

  stats(): { chunks: number; bytes: number } {
    return { chunks: this.small.size + this.packed.size, bytes: this.totalBytes };
  }

  /** Every stored chunk hash (a snapshot of the in-memory sets). */
  hashes(): string[] {
    return [...this.small.keys(), ...this.packed.keys()];
  }

  /** Closes the pack files (the store is unusable afterwards). */
  close(): void {
    for (const p of this.packs.values()) {
      // A write still under way (a putMany that never returned) keeps its descriptor: closing it could
      // send those bytes into a file opened later under the same number.
      if (p.appender && !p.appender.flushNow()) continue;
      if (p.fd !== null) closeSync(p.fd);
    }
    this.packs.clear();
    this.openOrder.clear();
  }

  // ------------------------------------------------------------------------------------------- packs

  private packPath(n: number): string {
    return path.join(this.packDir, `p-${n}.pack`);
  }

  /** Appends bytes to the current pack (a new one when it is full); synchronous, so never interleaved. */
  private append(data: Uint8Array): Located {
    let pack = this.packs.get(this.current);
    if (!pack || pack.size + data.length > this.packLimit) {
      if (pack) this.current++;
      pack = this.createPack(this.current);
    }
    const off = pack.size;
    const fd = this.fdOf(this.current, pack);
    if (pack.direct) {
      pack.appender ??= new AlignedAppender(fd, off, APPEND_BUFFER_BYTES, this.migrating);
      pack.appender.append(data);
    } else {
      writeFullySync(fd, data, off);
    }
    pack.size += data.length;
    pack.dirty = true;
    pack.unsynced += data.length;
    if (pack.unsynced >= BACKGROUND_SYNC_BYTES && pack.syncing === 0 && !this.migrating)
      this.syncPacks([this.current]).catch(() => {}); // a failure leaves it dirty: the next sync retries
    return { pack: this.current, off, len: data.length, checked: true };
  }

  /**
   * Puts the bytes the appenders of `packs` hold into their files (not synced). An appender whose write
   * failed is dropped and appends move on to a new pack (the failed one's bytes belong to no row).
   */
  private async flushPacks(packs: number[]): Promise<void> {
    await Promise.all(
      packs.map(async (n) => {
        const pack = this.packs.get(n);
        const appender = pack?.appender;
        if (!pack || !appender) return;
        try {
          await appender.flush();
        } catch (e) {
          if (pack.appender === appender) pack.appender = null;
          if (n === this.current) this.current++;
          throw e;
        }
      }),
    );
  }

  private createPack(n: number): Pack {
    const pack: Pack = {
      ...closedPack(0),
      dirty: true,
    };
    this.packs.set(n, pack);
    pack.size = fstatSync(this.fdOf(n, pack)).size;
    return pack;
  }

  /** A known pack (its size from the file system; opened only when read or written). */
  private openPack(n: number): Pack | null {
    const known = this.packs.get(n);
    if (known) return known;
    let size: number;
    try {
      size = statSync(this.packPath(n)).size;
    } catch {
      return null;
    }
    const pack = closedPack(size);
    this.packs.set(n, pack);
    return pack;
  }

  /** Packs with an open descriptor, least recently used first. */
  private readonly openOrder = new Map<number, Pack>();

  /** The pack's descriptor, opening it (and closing the least recently used clean one beyond the cap). */
  private fdOf(n: number, pack: Pack): number {
    if (pack.fd !== null) {
      this.openOrder.delete(n);
      this.openOrder.set(n, pack);
      return pack.fd;
    }
    // Not O_APPEND: writes go to explicit offsets (pwrite), which O_APPEND would ignore.
    const opened = openDirect(this.packPath(n), constants.O_RDWR | constants.O_CREAT, 0o600, this.directIo);
    pack.fd = opened.fd;
    pack.direct = opened.direct;
    this.openOrder.set(n, pack);
    this.trimOpen(n);
    return pack.fd;
  }

  /** Closes least recently used descriptors beyond the cap (never one being written or synced). */
  private trimOpen(keep = -1): void {
    for (const [k, p] of this.openOrder) {
      if (this.openOrder.size <= MAX_OPEN_PACKS) return;
      if (k === keep || k === this.current || p.dirty || p.syncing > 0 || p.appender || p.fd === null)
        continue;
      closeSync(p.fd);
      p.fd = null;
      this.openOrder.delete(k);
    }
  }

  private addPacked(hash: string, at: Located): void {
    this.packed.set(hash, at);
    this.totalBytes += at.len;
    const pack = this.packs.get(at.pack);
    if (pack) pack.live += at.len;
  }

  /** fdatasyncs the dirty ones among `packs` (in the thread pool, all at once). */
  private async syncPacks(packs: number[]): Promise<void> {
    await Promise.all(
      packs.map(async (n) => {
        const pack = this.packs.get(n);
        if (!pack) return;
        if (!pack.dirty) {
          if (pack.lastSync) await pack.lastSync;
          return;
        }
        const fd = this.fdOf(n, pack);
        pack.dirty = false; // appends from now on mark it again
        pack.unsynced = 0;
        pack.syncing++;
        const done = (async () => {
          await this.flushPacks([n]); // (a failure throws before the pack counts as clean)
          if (n !== this.current && !pack.appender?.failed) pack.appender = null; // nothing more goes in
          await new Promise<void>((resolve, reject) =>
            this.fdatasync(fd, (err) => (err ? reject(err) : resolve())),
          );
        })();
        pack.lastSync = done;
        try {
          await done;
        } catch (e) {
          pack.dirty = true;
          throw e;
        } finally {
          pack.syncing--;
          if (pack.lastSync === done) pack.lastSync = null;
        }
      }),
    );
    this.trimOpen();
  }

  /** Moves the live chunks of mostly-garbage closed packs into the current pack, then deletes them. */
  private async compact(): Promise<void> {
    for (const [n, pack] of [...this.packs]) {
      if (n === this.current || pack.live >= pack.size * COMPACT_BELOW) continue;
      const moving = [...this.packed].filter(([, at]) => at.pack === n);
      const moved: Array<[string, Located]> = [];
      for (const [hash] of moving) {
        const data = await this.get(hash);
        if (data) moved.push([hash, this.append(data)]);
      }
      // Every pack they went to (the current one may have filled up and been followed by another).
      await this.syncPacks([...new Set(moved.map(([, at]) => at.pack))]);
      this.db.transaction(() => {
        for (const [hash, at] of moved)
          this.q.packedPut.run(hash, at.pack, at.off, at.len, Math.round(this.now()));
      })();
      for (const [hash, at] of moved) {
        this.packed.delete(hash);
        this.totalBytes -= at.len;
        this.addPacked(hash, at);
      }
      if (pack.fd !== null) closeSync(pack.fd);
      this.openOrder.delete(n);
      this.packs.delete(n);
      unlinkSync(this.packPath(n));
    }
  }

  // -------------------------------------------------------------------------------------------- load

  private load(): void {
    let last = 0;
    for (const name of readdirSync(this.packDir)) {
      const m = PACK_RE.exec(name);
      if (m) last = Math.max(last, Number(m[1]));
    }
    for (const r of this.db.query("SELECT hash, length(data) AS n FROM cs_small").all() as {
      hash: string;
      n: number;
    }[]) {
      this.small.set(r.hash, r.n);
      this.totalBytes += r.n;
    }
    for (const r of this.db.query("SELECT hash, pack, off, len FROM cs_packed").all() as ({
      hash: string;
    } & Located)[]) {
      if (!this.openPack(r.pack)) continue; // its pack is gone: the chunk is missing (fetched again)
      this.addPacked(r.hash, r);
    }
    this.current = last;
    this.migrateChunkFiles();
  }

  /** A store from before packs kept one file per chunk in <dir>/<hash[0..2]>/: move them in, once. */
  private migrateChunkFiles(): void {
    const shards = readdirSync(this.dir).filter((s) => /^[0-9a-f]{2}$/.test(s));
    if (shards.length === 0) return;
    this.migrating = true;
    try {
      this.migrateShards(shards);
    } finally {
      this.migrating = false;
    }
  }

  private migrateShards(shards: string[]): void {
    const ms = Math.round(this.now());
    for (const shard of shards) {
      const shardDir = path.join(this.dir, shard);
      if (!statSync(shardDir).isDirectory()) continue;
      const found: Chunk[] = [];
      for (const name of readdirSync(shardDir)) {
        if (!isChunkHash(name) || this.has(name)) continue;
        const data = new Uint8Array(readFileSync(path.join(shardDir, name)));
        if (sha256Hex(data) === name) found.push({ hash: name, data });
      }
      const rows: Array<[string, Uint8Array]> = [];
      const appended: Array<[string, Located]> = [];
      for (const c of found) {
        if (c.data.length <= this.smallBytes) rows.push([c.hash, c.data]);
        else appended.push([c.hash, this.append(c.data)]);
      }
      const pack = this.packs.get(this.current);
      if (pack?.dirty) {
        pack.appender?.flushNow(); // (synchronous appends here: it always can)
        pack.appender = null; // later appends get an ordinary one
        fdatasyncSync(this.fdOf(this.current, pack));
        pack.dirty = false;
        pack.unsynced = 0;
      }
      this.db.transaction(() => {
        for (const [h, d] of rows) this.q.smallPut.run(h, d, ms);
        for (const [h, at] of appended) this.q.packedPut.run(h, at.pack, at.off, at.len, ms);
      })();
      for (const [h, d] of rows) {
        this.small.set(h, d.length);
        this.totalBytes += d.length;
      }
      for (const [h, at] of appended) this.addPacked(h, at);
      rmSync(shardDir, { recursive: true, force: true });
    }
  }
}

function closedPack(size: number): Pack {
  return {
    fd: null,
    direct: false,
    appender: null,
    size,
    live: 0,
    dirty: false,
    unsynced: 0,
    syncing: 0,
    lastSync: null,
  };
}

/** Whether a run of pack bytes [start, end) can be read into a buffer of `room` bytes. */
function runFits(start: number, end: number, room: number, direct: boolean): boolean {
  return (direct ? alignUp(end) - alignDown(start) : end - start) <= room;
}

function prepare(db: Database): Queries {
  db.run(
    "CREATE TABLE IF NOT EXISTS cs_small (hash TEXT PRIMARY KEY, data BLOB NOT NULL, touched INTEGER NOT NULL) WITHOUT ROWID",
  );
  db.run(
    "CREATE TABLE IF NOT EXISTS cs_packed (hash TEXT PRIMARY KEY, pack INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL, touched INTEGER NOT NULL) WITHOUT ROWID",
  );
  return {
    smallGet: db.prepare("SELECT data FROM cs_small WHERE hash = ?"),
    smallPut: db.prepare("INSERT OR REPLACE INTO cs_small (hash, data, touched) VALUES (?, ?, ?)"),
    smallTouch: db.prepare("UPDATE cs_small SET touched = ? WHERE hash = ?"),
    smallAge: db.prepare("SELECT touched, length(data) AS n FROM cs_small WHERE hash = ?"),
    smallDel: db.prepare("DELETE FROM cs_small WHERE hash = ?"),
    packedPut: db.prepare(
      "INSERT OR REPLACE INTO cs_packed (hash, pack, off, len, touched) VALUES (?, ?, ?, ?, ?)",
    ),
    packedTouch: db.prepare("UPDATE cs_packed SET touched = ? WHERE hash = ?"),
    packedAge: db.prepare("SELECT touched FROM cs_packed WHERE hash = ?"),
    packedDel: db.prepare("DELETE FROM cs_packed WHERE hash = ?"),
  };
}
