import { EventEmitter } from "node:events";
import { FsmEvents } from "../store/fsm-events.ts";

/** One typed stream of everything observable about a node: FSM applies, role and membership changes.
 * The admin SUBSCRIBE stream, the TUI, metrics and logs all read it (nobody polls internals). */
export type NodeEvent = Record<string, unknown> & { type: string; at: number; node: string };

/**
 * Byte progress of one large chunk transfer between nodes: the origin pushing a file's chunks to its
 * peers, or a node fetching chunks it lacks at apply time. Throttled (see TransferProgress): the first
 * event, at most one per interval, and the final one (state "done" or "failed"). (node, id) names a
 * transfer; bytesDone never decreases within one.
 */
export interface TransferEvent {
  type: "transfer";
  /** Unique on the emitting node (also across its restarts). */
  id: string;
  direction: "push" | "fetch";
  /** The file the chunks belong to when the caller knows it; for a push of several files, the first. */
  path: string | null;
  /** Files whose chunks the transfer carries (a batch of changes can push several at once). */
  files: number;
  /** push: the members being sent to (one that fails drops out); fetch: the member being asked. */
  peers: string[];
  /** push: bytes every listed peer acknowledged; fetch: bytes received. */
  bytesDone: number;
  /** Null while unknown: a fetch learns chunk sizes only as they arrive (its last event has it). */
  bytesTotal: number | null;
  chunksDone: number;
  chunksTotal: number;
  /** Since the transfer started (the emitting node's clock): rate = bytesDone / elapsedMs. */
  elapsedMs: number;
  state: "active" | "done" | "failed";
  /** Why it failed (state "failed" only). */
  error?: string;
}

export class NodeEvents {
  private readonly emitter = new EventEmitter();
  /** Handed to FileFSM as its event sink. */
  readonly fsm = new FsmEvents();
  private readonly recent: NodeEvent[] = [];

  constructor(
    private readonly nodeId: string,
    private readonly keep = 200,
  ) {
    this.emitter.setMaxListeners(0);
    this.fsm.onAny((e) => this.publish({ ...e }));
  }

  emitRaft(e: Record<string, unknown> & { type: string }): void {
    this.publish(e);
  }

  /** Progress is transient: it goes to listeners but not into history, where it would push out applies. */
  emitTransfer(e: TransferEvent): void {
    this.publish({ ...e }, false);
  }

  subscribe(listener: (e: NodeEvent) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }

  history(): NodeEvent[] {
    return [...this.recent];
  }

  private publish(e: Record<string, unknown> & { type: string }, remember = true): void {
    const ev = { at: Date.now(), node: this.nodeId, ...e } as NodeEvent;
    if (remember) {
      this.recent.push(ev);
      if (this.recent.length > this.keep) this.recent.shift();
    }
    this.emitter.emit("event", ev);
  }
}
