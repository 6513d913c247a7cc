import type { Entry, SnapshotMeta } from "../types.ts";

/** Approximate encoded size of an entry, for maxSizePerMsg batching. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}

/**
 * The in-memory Raft log: a snapshot (everything up to snapshot.index, compacted) followed by an array of
 * entries where entries[i].index === snapshot.index + 1 + i. Index arithmetic only; no scans of the log.
 * Tracks which entries were handed to the driver for persisting and which committed entries for applying.
 */
export class RaftLog {
  snapshot: SnapshotMeta;
  private entries: Entry[];
  committed: number;
  /** Highest index handed to the driver in Ready.committedEntries (or installed by snapshot). */
  applying: number;
  /** Highest index the driver reported applied (advance). */
  applied: number;
  /** First index not yet handed to the driver for persisting. */
  unstable: number;

  constructor(snapshot: SnapshotMeta, entries: Entry[], committed: number) {
    this.snapshot = snapshot;
    this.entries = entries.slice();
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i]!.index !== snapshot.index + 1 + i) {
        throw new Error(`raft log: restored entries are not contiguous after snapshot ${snapshot.index}`);
      }
    }
    this.committed = Math.min(Math.max(committed, snapshot.index), this.lastIndex());
    this.applying = snapshot.index;
    this.applied = snapshot.index;
    this.unstable = this.lastIndex() + 1;
  }

  firstIndex(): number {
    return this.snapshot.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length;
  }

  lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? this.snapshot.term : this.entries[n - 1]!.term;
  }

  /** Term of the entry at index i; undefined when compacted away or beyond the end. */
  term(i: number): number | undefined {
    const off = i - this.snapshot.index;
    if (off === 0) return this.snapshot.term;
    if (off < 0 || off > this.entries.length) return undefined;
    return this.entries[off - 1]!.term;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  entry(i: number): Entry | undefined {
    const off = i - this.snapshot.index - 1;
    return off >= 0 ? this.entries[off] : undefined;
  }

  /** Entries in [lo, hi) (lo >= firstIndex), stopping once maxBytes is exceeded (always at least one). */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    const base = this.snapshot.index + 1;
    if (lo < base) throw new Error(`raft log: slice(${lo}) below first index ${base}`);
    const end = Math.min(hi, this.lastIndex() + 1);
    if (lo >= end) return [];
    if (maxBytes === Number.POSITIVE_INFINITY) return this.entries.slice(lo - base, end - base);
    let bytes = 0;
    let i = lo;
    for (; i < end; i++) {
      bytes += entrySize(this.entries[i - base]!);
      if (bytes > maxBytes && i > lo) break;
    }
    return this.entries.slice(lo - base, i - base);
  }

  /** Leader append: e.index must be lastIndex + 1. */
  append(e: Entry): void {
    this.entries.push(e);
  }

  /**
   * Index of the first entry in ents that conflicts with the log (different term), or of the first new
   * entry beyond the end; 0 when every entry is already present.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Largest index <= index whose term is <= term (etcd findConflictByTerm): a follower uses it to hint the
   * leader past a whole conflicting term at once. Returns term 0 when the hint falls into compacted log.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  /** Follower append: ents start at some index <= lastIndex + 1; truncates any conflicting suffix. */
  truncateAndAppend(ents: Entry[]): void {
    if (ents.length === 0) return;
    const first = ents[0]!.index;
    if (first <= this.committed) {
      throw new Error(`raft log: truncating committed entry ${first} (committed ${this.committed})`);
    }
    const keep = first - this.firstIndex();
    if (keep < 0 || keep > this.entries.length) {
      throw new Error(`raft log: append at ${first} leaves a gap (last ${this.lastIndex()})`);
    }
    if (keep < this.entries.length) this.entries.length = keep;
    for (const e of ents) this.entries.push(e);
    if (first < this.unstable) this.unstable = first;
  }

  unstableEntries(): Entry[] {
    if (this.unstable > this.lastIndex()) return [];
    return this.slice(Math.max(this.unstable, this.firstIndex()), this.lastIndex() + 1);
  }

  markUnstableHandedOut(): void {
    this.unstable = this.lastIndex() + 1;
  }

  hasNextCommitted(): boolean {
    return Math.min(this.committed, this.lastIndex()) > Math.max(this.applying, this.snapshot.index);
  }

  nextCommitted(): Entry[] {
    const lo = Math.max(this.applying, this.snapshot.index) + 1;
    const hi = Math.min(this.committed, this.lastIndex());
    if (hi < lo) return [];
    return this.slice(lo, hi + 1);
  }

  appliedTo(i: number): void {
    if (i > this.applied) this.applied = Math.min(i, this.committed);
  }

  /** Drops entries up to meta.index (the application snapshotted them). */
  compact(meta: SnapshotMeta): void {
    this.entries = this.entries.slice(meta.index - this.snapshot.index);
    this.snapshot = meta;
    if (this.unstable < meta.index + 1) this.unstable = meta.index + 1;
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  restore(meta: SnapshotMeta): void {
    this.entries = [];
    this.snapshot = meta;
    this.committed = meta.index;
    this.applying = meta.index;
    this.applied = meta.index;
    this.unstable = meta.index + 1;
  }
}
