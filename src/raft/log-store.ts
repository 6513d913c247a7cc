import type { Entry } from "./types.ts";

/** Durable Raft log (hashicorp/raft's LogStore). Synchronous: bun:sqlite is, and the driver is serial. */
export interface LogStore {
  /** Index of the first stored entry, or 0 when the log is empty. */
  firstIndex(): number;
  /** Index of the last stored entry, or 0 when the log is empty. */
  lastIndex(): number;
  /** Entries with lo <= index < hi, in order. */
  getEntries(lo: number, hi: number): Entry[];
  /**
   * Append entries durably. If entries[0].index <= lastIndex(), every stored entry with
   * index >= entries[0].index is removed first (a new leader overwrote a conflicting suffix).
   */
  storeEntries(entries: Entry[]): void;
  /** Remove every entry with index <= upTo (log compaction after a snapshot). */
  compact(upTo: number): void;
}
