import { applyConfChangeTo, cloneConfState } from "../../src/raft/core/conf-change.ts";
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type SnapshotMeta,
} from "../../src/raft/types.ts";

/** FNV-1a over an entry's index, type and data, chained onto the previous state hash. */
export function chainHash(prev: number, e: Entry): number {
  let h = (prev ^ 0x811c9dc5) >>> 0;
  const mix = (b: number) => {
    h = Math.imul(h ^ (b & 0xff), 0x01000193) >>> 0;
  };
  mix(e.index);
  mix(e.index >>> 8);
  mix(e.index >>> 16);
  mix(e.type);
  const d = e.data;
  for (let i = 0; i < d.length; i++) mix(d[i]!);
  return h;
}

/** Fingerprint of an entry's content (type + data), for log matching. */
export function entryFingerprint(e: Entry): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ e.type, 0x01000193) >>> 0;
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193) >>> 0;
  return (h ^ d.length) >>> 0;
}

/**
 * The replicated state machine: a running hash over every applied entry (so any divergence in content or
 * order shows), a count, and the membership as of the applied index (needed for snapshot metadata).
 * Volatile: a crash loses it; a restart restores it from the disk snapshot.
 */
export class SimFsm {
  applied: number;
  hash: number;
  count: number;
  conf: ConfState;

  constructor(meta: SnapshotMeta, data: Uint8Array) {
    const s = decodeFsmState(data);
    this.applied = meta.index;
    this.hash = s.hash;
    this.count = s.count;
    this.conf = cloneConfState(meta.confState);
  }

  apply(e: Entry): void {
    this.applied = e.index;
    this.hash = chainHash(this.hash, e);
    this.count++;
    if (e.type === EntryType.ConfChange) this.conf = applyConfChangeTo(this.conf, decodeConfChange(e.data));
  }

  snapshotData(): Uint8Array {
    return encodeFsmState({ applied: this.applied, hash: this.hash, count: this.count });
  }
}

interface FsmState {
  applied: number;
  hash: number;
  count: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeFsmState(s: FsmState): Uint8Array {
  return enc.encode(JSON.stringify(s));
}

export function decodeFsmState(data: Uint8Array): FsmState {
  if (data.length === 0) return { applied: 0, hash: 0, count: 0 };
  return JSON.parse(dec.decode(data)) as FsmState;
}
