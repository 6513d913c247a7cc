import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { RaftStorage } from "../raft-storage.ts";
import type { Entry, EntryType, HardState } from "../types.ts";
import { deferredCommit } from "./deferred-commit.ts";
import { checkAppendable, decodeHardState, encodeHardState } from "./storage-codec.ts";

/** Key of the hard state in raft_kv; user keys live under "user/" so they can never collide with it. */
const HARD_STATE_KEY = "raft/hard_state";
const USER_KEY_PREFIX = "user/";

export interface SqliteRaftStorageOptions {
  /** Milliseconds to wait for a lock held by another connection to the same file. Default 5000. */
  busyTimeoutMs?: number;
}

type LogRow = [idx: number, term: number, type: number, data: Uint8Array];

/**
 * Raft log and hard state in bun:sqlite (tables raft_log, raft_kv).
 *
 * Durability: WAL with synchronous=FULL, so every committed transaction is fsynced before it returns:
 * an acknowledged persist() survives kill -9 and power loss (given a disk that honours fsync).
 * persist() is one transaction, hence one fsync however many entries it carries (group commit).
 *
 * The storage may own its Database (constructed from a path) or borrow one (constructed from a Database,
 * e.g. shared with the node's file index). close() closes the database only when it owns it.
 */
export class SqliteRaftStorage implements RaftStorage {
  readonly db: Database;
  private readonly ownsDb: boolean;
  private first = 0;
  private last = 0;
  private closed = false;

  private readonly insertEntry: Statement;
  private readonly deleteFrom: Statement;
  private readonly deleteUpTo: Statement;
  private readonly selectRange: Statement<LogRow, [number, number]>;
  private readonly selectTerm: Statement<{ term: number }, [number]>;
  private readonly selectBounds: Statement<{ lo: number | null; hi: number | null }, []>;
  private readonly getKv: Statement<{ value: Uint8Array }, [string]>;
  private readonly putKv: Statement;
  private readonly persistTx: ((hs: HardState | null, entries: Entry[]) => void) & {
    immediate: (hs: HardState | null, entries: Entry[]) => void;
  };

  constructor(pathOrDb: string | Database, options: SqliteRaftStorageOptions = {}) {
    if (typeof pathOrDb === "string") {
      if (pathOrDb !== ":memory:") mkdirSync(dirname(pathOrDb), { recursive: true });
      this.db = new Database(pathOrDb, { create: true, strict: true });
      this.ownsDb = true;
    } else {
      this.db = pathOrDb;
      this.ownsDb = false;
    }
    const db = this.db;
    try {
      db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      const mode = db.prepare("PRAGMA journal_mode = WAL").values()[0]?.[0];
      // An in-memory database reports "memory"; anything else means WAL is unavailable on this file system.
      if (mode !== "wal" && mode !== "memory") {
        throw new Error(`SqliteRaftStorage: could not enable WAL journal mode (got ${String(mode)})`);
      }
      // FULL (not NORMAL): in WAL mode NORMAL skips the fsync at commit and loses the tail on power loss.
      db.run("PRAGMA synchronous = FULL");
      db.run(
        "CREATE TABLE IF NOT EXISTS raft_log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL)",
      );
      db.run("CREATE TABLE IF NOT EXISTS raft_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)");

      this.insertEntry = db.prepare("INSERT INTO raft_log (idx, term, type, data) VALUES (?, ?, ?, ?)");
      this.deleteFrom = db.prepare("DELETE FROM raft_log WHERE idx >= ?");
      this.deleteUpTo = db.prepare("DELETE FROM raft_log WHERE idx <= ?");
      this.selectRange = db.prepare<LogRow, [number, number]>(
        "SELECT idx, term, type, data FROM raft_log WHERE idx >= ? AND idx < ? ORDER BY idx",
      );
      this.selectTerm = db.prepare<{ term: number }, [number]>("SELECT term FROM raft_log WHERE idx = ?");
      this.selectBounds = db.prepare<{ lo: number | null; hi: number | null }, []>(
        "SELECT min(idx) AS lo, max(idx) AS hi FROM raft_log",
      );
      this.getKv = db.prepare<{ value: Uint8Array }, [string]>("SELECT value FROM raft_kv WHERE key = ?");
      this.putKv = db.prepare("INSERT OR REPLACE INTO raft_kv (key, value) VALUES (?, ?)");
      this.persistTx = db.transaction((hs: HardState | null, entries: Entry[]) => {
        this.writeEntries(entries);
        if (hs) this.putKv.run(HARD_STATE_KEY, encodeHardState(hs));
      });

      const bounds = this.selectBounds.get();
      this.first = bounds?.lo ?? 0;
      this.last = bounds?.hi ?? 0;
    } catch (err) {
      if (this.ownsDb) db.close();
      throw err;
    }
  }

  firstIndex(): number {
    return this.first;
  }

  lastIndex(): number {
    return this.last;
  }

  /** Stored entries with lo <= index < hi (clamped to what is stored: compacted or future indices are absent). */
  getEntries(lo: number, hi: number): Entry[] {
    this.assertOpen();
    if (hi <= lo || this.last === 0) return [];
    const rows = this.selectRange.values(lo, hi) as LogRow[];
    const out: Entry[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out[i] = { index: r[0], term: r[1], type: r[2] as EntryType, data: r[3] };
    }
    return out;
  }

  /** Term of the stored entry at `index`, or null if it is not stored (compacted or beyond the end). */
  termAt(index: number): number | null {
    this.assertOpen();
    if (index < this.first || index > this.last || this.last === 0) return null;
    return this.selectTerm.get(index)?.term ?? null;
  }

  storeEntries(entries: Entry[]): void {
    this.persist(null, entries);
  }

  persist(hardState: HardState | null, entries: Entry[], sync = true): void {
    this.assertOpen();
    if (entries.length === 0 && hardState === null) return;
    checkAppendable(entries, this.last);
    // A persist nested in someone else's open transaction would only be durable when *they* commit.
    if (this.db.inTransaction) {
      throw new Error(
        "SqliteRaftStorage.persist: called inside an open transaction; it would not be durable",
      );
    }
    if (sync) this.persistTx.immediate(hardState, entries);
    else deferredCommit(this.db, () => this.persistTx(hardState, entries));
    if (entries.length > 0) {
      const start = entries[0]!.index;
      if (this.last === 0 || start < this.first) this.first = start;
      this.last = entries[entries.length - 1]!.index;
    }
  }

  compact(upTo: number): void {
    this.assertOpen();
    if (this.last === 0 || upTo < this.first) return;
    this.deleteUpTo.run(upTo);
    if (upTo >= this.last) {
      this.first = 0;
      this.last = 0;
    } else {
      this.first = upTo + 1;
    }
  }

  getHardState(): HardState | null {
    this.assertOpen();
    const row = this.getKv.get(HARD_STATE_KEY);
    return row ? decodeHardState(row.value) : null;
  }

  setHardState(hs: HardState): void {
    this.persist(hs, []);
  }

  get(key: string): Uint8Array | null {
    this.assertOpen();
    return this.getKv.get(USER_KEY_PREFIX + key)?.value ?? null;
  }

  set(key: string, value: Uint8Array): void {
    this.assertOpen();
    this.putKv.run(USER_KEY_PREFIX + key, value);
  }

  /** Finalize statements; close the database only if this storage opened it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [
      this.insertEntry,
      this.deleteFrom,
      this.deleteUpTo,
      this.selectRange,
      this.selectTerm,
      this.selectBounds,
      this.getKv,
      this.putKv,
    ]) {
      s.finalize();
    }
    if (this.ownsDb) this.db.close();
  }

  private writeEntries(entries: Entry[]): void {
    if (entries.length === 0) return;
    const start = entries[0]!.index;
    if (this.last !== 0 && start <= this.last) this.deleteFrom.run(start);
    for (const e of entries) this.insertEntry.run(e.index, e.term, e.type, e.data);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("SqliteRaftStorage: used after close()");
  }
}
