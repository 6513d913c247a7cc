import type { Entry, HardState, RestoreState, SnapshotMeta } from "../../src/raft/types.ts";

/** A harness bug (not a Raft violation): the driver contract was broken in a way the disk cannot honour. */
export class HarnessError extends Error {}

export interface StoredSnapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

/**
 * A node's simulated durable storage: hard state, the log after the snapshot (with conflict truncation),
 * and the latest snapshot (meta + FSM bytes). It survives crashes; everything else on a node does not.
 */
export class SimDisk {
  hardState: HardState;
  snapshot: StoredSnapshot;
  /** Entries after snapshot.meta.index, contiguous. */
  entries: Entry[];

  constructor(restore: RestoreState, snapshotData: Uint8Array) {
    this.hardState = { ...restore.hardState };
    this.snapshot = { meta: restore.snapshot, data: snapshotData };
    this.entries = restore.entries.slice();
  }

  snapshotIndex(): number {
    return this.snapshot.meta.index;
  }

  lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  /** Term of the entry at i: the snapshot's term at its index, undefined when compacted or absent. */
  termAt(i: number): number | undefined {
    const off = i - this.snapshot.meta.index;
    if (off === 0) return this.snapshot.meta.term;
    if (off < 0 || off > this.entries.length) return undefined;
    return this.entries[off - 1]?.term;
  }

  entryAt(i: number): Entry | undefined {
    const off = i - this.snapshot.meta.index - 1;
    return off >= 0 ? this.entries[off] : undefined;
  }

  /** Append, first dropping any stored suffix from entries[0].index (conflict truncation). */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    const snapIndex = this.snapshot.meta.index;
    if (first <= snapIndex) throw new HarnessError(`append at ${first} is at or below snapshot ${snapIndex}`);
    if (first > this.lastIndex() + 1) {
      throw new HarnessError(`append at ${first} leaves a gap after last index ${this.lastIndex()}`);
    }
    this.entries.length = first - snapIndex - 1;
    for (const e of entries) this.entries.push(e);
  }

  /** A snapshot received from a leader replaces the whole log (the core restarted its log from it). */
  installSnapshot(snap: StoredSnapshot): void {
    this.snapshot = snap;
    this.entries = [];
  }

  /** The application snapshotted its FSM at meta.index: drop the entries it covers. */
  compact(snap: StoredSnapshot): void {
    const drop = snap.meta.index - this.snapshot.meta.index;
    if (drop <= 0) return;
    this.entries = this.entries.slice(drop);
    this.snapshot = snap;
  }

  restoreState(): RestoreState {
    return { hardState: { ...this.hardState }, snapshot: this.snapshot.meta, entries: this.entries.slice() };
  }
}
