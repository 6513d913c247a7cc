import { EventEmitter } from "node:events";
import { FsmEvents } from "../store/fsm-events.ts";

/** One typed stream of everything observable about a node: FSM applies, role and membership changes.
 * The admin SUBSCRIBE stream, the TUI, metrics and logs all read it (nobody polls internals). */
export type NodeEvent = Record<string, unknown> & { type: string; at: number; node: string };

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

  subscribe(listener: (e: NodeEvent) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }

  history(): NodeEvent[] {
    return [...this.recent];
  }

  private publish(e: Record<string, unknown> & { type: string }): void {
    const ev = { at: Date.now(), node: this.nodeId, ...e } as NodeEvent;
    this.recent.push(ev);
    if (this.recent.length > this.keep) this.recent.shift();
    this.emitter.emit("event", ev);
  }
}
