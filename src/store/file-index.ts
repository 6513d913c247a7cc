// The file index: path -> replicated metadata of the current version (tombstones for deletes), plus this
// node's own on-disk stat of each materialised file (not replicated, used to skip unchanged files) and
// chunk reference counts for GC. It lives in the node's state.db beside the raft log, in tables
// prefixed fi_, so the FSM can update entries and the applied index in one transaction.
import type { Database, Statement } from "bun:sqlite";
import { constants } from "node:fs";
import { deferredCommit } from "../raft/storage/deferred-commit.ts";
import { normalized, type VectorClock } from "./vector-clock.ts";

export interface IndexEntry {
  path: string;
  kind: "file" | "dir";
  hash: string;
  size: number;
  mode: number;
  mtimeMs: number;
  chunks: string[];
  clock: VectorClock;
  deleted: boolean;
  origin: string;
  updatedIndex: number;
}

/** The entry unless it is missing or a tombstone. */
export function liveEntry(e: IndexEntry | null | undefined): IndexEntry | undefined {
  return e && !e.deleted ? e : undefined;
}

/** This node's on-disk stat after materialising; NOT replicated. */
export interface LocalStat {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** A live index entry as liveLocalStates reports it. */
export interface LiveLocalState {
  kind: "file" | "dir";
  mode: number;
  stat?: LocalStat;
}

/**
 * Whether an lstat (`st.mode` the full st_mode) shows a live entry as this node last saw it agree with
 * the index: a directory with the entry's mode, or a regular file with the recorded local stat and the
 * entry's mode. The scanner would then find nothing to propose.
 */
export function agreesWithIndex(
  k: LiveLocalState,
  st: { mode: number; ino: number; size: number; mtimeMs: number },
): boolean {
  const type = st.mode & constants.S_IFMT;
  if ((st.mode & 0o7777) !== k.mode) return false;
  if (k.kind === "dir") return type === constants.S_IFDIR;
  return (
    type === constants.S_IFREG &&
    k.stat !== undefined &&
    k.stat.ino === st.ino &&
    k.stat.size === st.size &&
    k.stat.mtimeMs === st.mtimeMs
  );
}

interface EntryRow {
  path: string;
  kind: string;
  hash: string;
  size: number;
  mode: number;
  mtime_ms: number;
  chunks: string;
  clock: string;
  deleted: number;
  origin: string;
  updated_index: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fi_entries (
  path TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL,
  hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  chunks TEXT NOT NULL,
  clock TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  origin TEXT NOT NULL,
  updated_index INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fi_chunk_refs (
  hash TEXT PRIMARY KEY NOT NULL,
  refs INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fi_local_stat (
  path TEXT PRIMARY KEY NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  ino INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fi_meta (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

const encoder = new TextEncoder();

export class FileIndex {
  private readonly db: Database;
  private readonly q: {
    get: Statement<EntryRow, [string]>;
    put: Statement<
      unknown,
      [string, string, string, number, number, number, string, string, number, string, number]
    >;
    remove: Statement<unknown, [string]>;
    all: Statement<EntryRow, []>;
    live: Statement<EntryRow, []>;
    liveLocal: Statement<
      {
        path: string;
        kind: string;
        mode: number;
        size: number | null;
        mtime_ms: number | null;
        ino: number | null;
      },
      []
    >;
    prefixAll: Statement<EntryRow, [string, Uint8Array]>;
    prefixLive: Statement<EntryRow, [string, Uint8Array]>;
    count: Statement<{ files: number; dirs: number; tombstones: number; bytes: number }, []>;
    refInc: Statement<unknown, [string]>;
    refDec: Statement<unknown, [string]>;
    refDrop: Statement<unknown, [string]>;
    refGet: Statement<{ refs: number }, [string]>;
    statGet: Statement<{ size: number; mtime_ms: number; ino: number }, [string]>;
    statPut: Statement<unknown, [string, number, number, number]>;
    statDel: Statement<unknown, [string]>;
    metaGet: Statement<{ value: string }, [string]>;
    metaPut: Statement<unknown, [string, string]>;
    metaDel: Statement<unknown, [string]>;
  };

  constructor(db: Database) {
    this.db = db;
    db.exec(SCHEMA);
    const cols = "path, kind, hash, size, mode, mtime_ms, chunks, clock, deleted, origin, updated_index";
    // Prefix scans use the primary key: path >= prefix AND path < prefix||0xFF (bytes, so no valid UTF-8
    // continuation of the prefix sorts above the bound).
    const range = "path >= ? AND path < CAST(? AS TEXT)";
    this.q = {
      get: db.prepare(`SELECT ${cols} FROM fi_entries WHERE path = ?`),
      put: db.prepare(`INSERT OR REPLACE INTO fi_entries (${cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      remove: db.prepare("DELETE FROM fi_entries WHERE path = ?"),
      all: db.prepare(`SELECT ${cols} FROM fi_entries ORDER BY path`),
      live: db.prepare(`SELECT ${cols} FROM fi_entries WHERE deleted = 0 ORDER BY path`),
      liveLocal: db.prepare(
        `SELECT e.path, e.kind, e.mode, s.size, s.mtime_ms, s.ino
           FROM fi_entries e LEFT JOIN fi_local_stat s ON s.path = e.path WHERE e.deleted = 0`,
      ),
      prefixAll: db.prepare(`SELECT ${cols} FROM fi_entries WHERE ${range} ORDER BY path`),
      prefixLive: db.prepare(`SELECT ${cols} FROM fi_entries WHERE ${range} AND deleted = 0 ORDER BY path`),
      count: db.prepare(
        `SELECT
           COALESCE(SUM(deleted = 0 AND kind = 'file'), 0) AS files,
           COALESCE(SUM(deleted = 0 AND kind = 'dir'), 0) AS dirs,
           COALESCE(SUM(deleted != 0), 0) AS tombstones,
           COALESCE(SUM(CASE WHEN deleted = 0 AND kind = 'file' THEN size ELSE 0 END), 0) AS bytes
         FROM fi_entries`,
      ),
      refInc: db.prepare(
        "INSERT INTO fi_chunk_refs (hash, refs) VALUES (?, 1) ON CONFLICT(hash) DO UPDATE SET refs = refs + 1",
      ),
      refDec: db.prepare("UPDATE fi_chunk_refs SET refs = refs - 1 WHERE hash = ?"),
      refDrop: db.prepare("DELETE FROM fi_chunk_refs WHERE hash = ? AND refs <= 0"),
      refGet: db.prepare("SELECT refs FROM fi_chunk_refs WHERE hash = ?"),
      statGet: db.prepare("SELECT size, mtime_ms, ino FROM fi_local_stat WHERE path = ?"),
      statPut: db.prepare(
        "INSERT OR REPLACE INTO fi_local_stat (path, size, mtime_ms, ino) VALUES (?, ?, ?, ?)",
      ),
      statDel: db.prepare("DELETE FROM fi_local_stat WHERE path = ?"),
      metaGet: db.prepare("SELECT value FROM fi_meta WHERE key = ?"),
      metaPut: db.prepare("INSERT OR REPLACE INTO fi_meta (key, value) VALUES (?, ?)"),
      metaDel: db.prepare("DELETE FROM fi_meta WHERE key = ?"),
    };
  }

  get(path: string): IndexEntry | undefined {
    const row = this.q.get.get(path);
    return row ? fromRow(row) : undefined;
  }

  /** Insert or replace the entry for entry.path, keeping chunk reference counts in step. */
  put(entry: IndexEntry): void {
    if (entry.kind !== "file" && entry.kind !== "dir")
      throw new TypeError(`bad index entry kind ${entry.kind}`);
    this.atomically(() => {
      const old = this.q.get.get(entry.path);
      this.adjustRefs(
        old ? liveChunks(old.deleted !== 0, JSON.parse(old.chunks)) : new Set<string>(),
        liveChunks(entry.deleted, entry.chunks),
      );
      this.q.put.run(
        entry.path,
        entry.kind,
        entry.hash,
        entry.size,
        entry.mode,
        entry.mtimeMs,
        JSON.stringify(entry.chunks),
        JSON.stringify(normalized(entry.clock)),
        entry.deleted ? 1 : 0,
        entry.origin,
        entry.updatedIndex,
      );
    });
  }

  /** Hard-remove an entry (and this node's stat of it). A delete is normally a tombstone: deleted=true. */
  remove(path: string): void {
    this.atomically(() => {
      const old = this.q.get.get(path);
      if (!old) {
        this.q.statDel.run(path);
        return;
      }
      this.adjustRefs(liveChunks(old.deleted !== 0, JSON.parse(old.chunks)), new Set<string>());
      this.q.remove.run(path);
      this.q.statDel.run(path);
    });
  }

  /** Entries in path order (byte order of UTF-8); live ones only unless includeDeleted. */
  list(opts: { includeDeleted?: boolean; prefix?: string } = {}): IndexEntry[] {
    const { includeDeleted = false, prefix } = opts;
    let rows: EntryRow[];
    if (prefix) {
      const bytes = encoder.encode(prefix);
      const upper = new Uint8Array(bytes.length + 1);
      upper.set(bytes);
      upper[bytes.length] = 0xff;
      rows = (includeDeleted ? this.q.prefixAll : this.q.prefixLive).all(prefix, upper);
    } else {
      rows = (includeDeleted ? this.q.all : this.q.live).all();
    }
    return rows.map(fromRow);
  }

  /** Live files, live directories, tombstones, and the total size of live files. */
  count(): { files: number; dirs: number; tombstones: number; bytes: number } {
    const r = this.q.count.get()!;
    return { files: r.files, dirs: r.dirs, tombstones: r.tombstones, bytes: r.bytes };
  }

  /**
   * Every live path with its kind and mode and, for a file, the local stat recorded when this node last
   * saw it agree with the index (none if it never did). One query: a reconcile compares a whole folder.
   */
  liveLocalStates(): Map<string, LiveLocalState> {
    const out = new Map<string, LiveLocalState>();
    for (const r of this.q.liveLocal.iterate()) {
      const kind = r.kind === "dir" ? "dir" : "file";
      out.set(
        r.path,
        r.size === null || r.mtime_ms === null || r.ino === null
          ? { kind, mode: r.mode }
          : { kind, mode: r.mode, stat: { size: r.size, mtimeMs: r.mtime_ms, ino: r.ino } },
      );
    }
    return out;
  }

  setLocalStat(path: string, s: LocalStat | null): void {
    if (s === null) this.q.statDel.run(path);
    else this.q.statPut.run(path, s.size, s.mtimeMs, s.ino);
  }

  getLocalStat(path: string): LocalStat | undefined {
    const r = this.q.statGet.get(path);
    return r ? { size: r.size, mtimeMs: r.mtime_ms, ino: r.ino } : undefined;
  }

  getMeta(key: string): string | undefined {
    return this.q.metaGet.get(key)?.value;
  }

  setMeta(key: string, v: string): void {
    this.q.metaPut.run(key, v);
  }

  deleteMeta(key: string): void {
    this.q.metaDel.run(key);
  }

  /** Whether a live (non-deleted) entry lists this chunk. Tombstones do not keep chunks alive. */
  isChunkReferenced(hash: string): boolean {
    return (this.q.refGet.get(hash)?.refs ?? 0) > 0;
  }

  /** How many live entries list this chunk (each entry counts once however often it repeats the chunk). */
  chunkRefCount(hash: string): number {
    return this.q.refGet.get(hash)?.refs ?? 0;
  }

  /** Runs fn in one sqlite transaction (a savepoint if one is already open); rolls back if it throws. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** A transaction whose commit does not wait for fsync (see deferred-commit.ts). */
  transactionDeferred<T>(fn: () => T): T {
    return deferredCommit(this.db, fn);
  }

  /** Empties entries, chunk references and local stats (for snapshot restore). Meta is kept. */
  clear(): void {
    this.atomically(() => {
      this.db.run("DELETE FROM fi_entries");
      this.db.run("DELETE FROM fi_chunk_refs");
      this.db.run("DELETE FROM fi_local_stat");
    });
  }

  private atomically(fn: () => void): void {
    if (this.db.inTransaction) fn();
    else this.db.transaction(fn)();
  }

  private adjustRefs(before: Set<string>, after: Set<string>): void {
    for (const h of before) {
      if (after.has(h)) continue;
      this.q.refDec.run(h);
      this.q.refDrop.run(h);
    }
    for (const h of after) if (!before.has(h)) this.q.refInc.run(h);
  }
}

function liveChunks(deleted: boolean | number, chunks: string[]): Set<string> {
  return deleted ? new Set() : new Set(chunks);
}

function fromRow(r: EntryRow): IndexEntry {
  return {
    path: r.path,
    kind: r.kind as "file" | "dir",
    hash: r.hash,
    size: r.size,
    mode: r.mode,
    mtimeMs: r.mtime_ms,
    chunks: JSON.parse(r.chunks),
    clock: JSON.parse(r.clock),
    deleted: r.deleted !== 0,
    origin: r.origin,
    updatedIndex: r.updated_index,
  };
}
