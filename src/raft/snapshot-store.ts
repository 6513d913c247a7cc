import type { SnapshotMeta } from "./types.ts";

/** Where snapshots live (hashicorp/raft's SnapshotStore). Data is streamed: it may be larger than memory. */
export interface SnapshotStore {
  /** Begin writing a snapshot; it becomes visible only when the sink is closed. */
  create(meta: SnapshotMeta): Promise<SnapshotSink>;
  /** Metadata of stored snapshots, newest first. */
  list(): Promise<SnapshotMeta[]>;
  /** Open a stored snapshot by its index, or null if it is not there. */
  open(index: number): Promise<{ meta: SnapshotMeta; size: number; data: AsyncIterable<Uint8Array> } | null>;
}

export interface SnapshotSink {
  readonly meta: SnapshotMeta;
  write(chunk: Uint8Array): Promise<void>;
  /** Make the snapshot durable (fsync + atomic rename) and prune older ones. */
  close(): Promise<void>;
  /** Abandon a partial snapshot; nothing becomes visible. */
  cancel(): Promise<void>;
}
