import type { RaftStorage } from "../raft-storage.ts";
import type { Entry, HardState } from "../types.ts";
import { checkAppendable } from "./storage-codec.ts";

/**
 * RaftStorage held in memory, with the same semantics as SqliteRaftStorage (conflict truncation,
 * compaction, clamped reads), for tests and simulation. Nothing survives the process.
 * Stored data is copied on the way in, so a caller reusing its buffers cannot change the log.
 */
export class MemoryRaftStorage implements RaftStorage {
  /** entries[i] has index first + i. */
  private entries: Entry[] = [];
  private first = 0;
  private hardState: HardState | null = null;
  private readonly kv = new Map<string, Uint8Array>();
  private closed = false;

  firstIndex(): number {
    return this.entries.length === 0 ? 0 : this.first;
  }

  lastIndex(): number {
    return this.entries.length === 0 ? 0 : this.first + this.entries.length - 1;
  }

  getEntries(lo: number, hi: number): Entry[] {
    this.assertOpen();
    if (this.entries.length === 0 || hi <= lo) return [];
    const from = Math.max(lo, this.first) - this.first;
    const to = Math.min(hi, this.first + this.entries.length) - this.first;
    return from < to ? this.entries.slice(from, to) : [];
  }

  termAt(index: number): number | null {
    this.assertOpen();
    return this.entries[index - this.first]?.term ?? null;
  }

  storeEntries(entries: Entry[]): void {
    this.persist(null, entries);
  }

  persist(hardState: HardState | null, entries: Entry[]): void {
    this.assertOpen();
    checkAppendable(entries, this.lastIndex());
    if (entries.length > 0) {
      const start = entries[0]!.index;
      const copies = entries.map((e) => ({
        term: e.term,
        index: e.index,
        type: e.type,
        data: e.data.slice(),
      }));
      if (this.entries.length === 0 || start < this.first) {
        this.entries = copies;
        this.first = start;
      } else {
        this.entries.length = start - this.first; // drop the conflicting suffix (no-op when appending)
        for (const c of copies) this.entries.push(c);
      }
    }
    if (hardState) this.hardState = { ...hardState };
  }

  compact(upTo: number): void {
    this.assertOpen();
    if (this.entries.length === 0 || upTo < this.first) return;
    const drop = Math.min(upTo - this.first + 1, this.entries.length);
    this.entries = this.entries.slice(drop);
    this.first += drop;
  }

  getHardState(): HardState | null {
    this.assertOpen();
    return this.hardState ? { ...this.hardState } : null;
  }

  setHardState(hs: HardState): void {
    this.persist(hs, []);
  }

  get(key: string): Uint8Array | null {
    this.assertOpen();
    return this.kv.get(key)?.slice() ?? null;
  }

  set(key: string, value: Uint8Array): void {
    this.assertOpen();
    this.kv.set(key, value.slice());
  }

  close(): void {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("MemoryRaftStorage: used after close()");
  }
}
