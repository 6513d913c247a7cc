import type { LogStore } from "./log-store.ts";
import type { StableStore } from "./stable-store.ts";
import type { Entry, HardState } from "./types.ts";

/**
 * LogStore and StableStore backed by one database, so a Ready's entries and hard state become
 * durable in one transaction (group commit: one fsync per Ready, however many entries it holds).
 */
export interface RaftStorage extends LogStore, StableStore {
  /**
   * Store entries (with conflict truncation, see LogStore.storeEntries) and hard state together,
   * durably unless `sync` is false: then they are written but may be lost to a power cut (allowed only
   * for what Raft can lose, see mustSync).
   */
  persist(hardState: HardState | null, entries: Entry[], sync?: boolean): void;
  close(): void;
}
