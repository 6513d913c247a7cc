import type { SnapshotSink } from "./snapshot-store.ts";
import type { Entry, SnapshotMeta } from "./types.ts";

/**
 * The replicated state machine (hashicorp/raft's FSM). The driver calls apply for every committed
 * Normal entry, in log order, one at a time, on every node. apply must be deterministic: the same
 * entries in the same order produce the same state everywhere.
 */
export interface FSM {
  /** Apply one committed entry; the result is handed back to whoever proposed it on this node. */
  apply(entry: Entry): Promise<unknown> | unknown;
  /** Optional: apply consecutive committed entries in one go (same results as one by one, cheaper). */
  applyMany?(entries: Entry[]): Promise<unknown[]>;
  /** Capture a point-in-time view cheaply; persisting may then run concurrently with new applies. */
  snapshot(): Promise<FSMSnapshot> | FSMSnapshot;
  /** Replace all state with the snapshot's (e.g. after InstallSnapshot). */
  restore(meta: SnapshotMeta, data: AsyncIterable<Uint8Array>): Promise<void>;
  /** Highest log index whose effects are durable in the FSM (entries at or below it are skipped on
   * re-apply). Lets the driver detect an FSM left behind its newest snapshot by a crash. */
  appliedIndex(): number;
}

export interface FSMSnapshot {
  /** Stream the captured state into the sink, then close it (or cancel it on failure). */
  persist(sink: SnapshotSink): Promise<void>;
  /** Called once the snapshot is no longer needed (persisted or abandoned). */
  release(): void;
}
