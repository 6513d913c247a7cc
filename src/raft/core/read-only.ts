import type { Message, NodeId } from "../types.ts";

export interface ReadIndexStatus {
  /** The leader's commit index when the request arrived. */
  index: number;
  /** The request: from === leader id for a local read, else the follower to answer. */
  req: Message;
  acks: Set<NodeId>;
}

/**
 * Pending ReadIndex requests on the leader (Raft §6.4), in arrival order. A heartbeat round carrying a
 * request's context confirms leadership for it and for every request queued before it.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  add(index: number, req: Message): boolean {
    if (this.pending.has(req.context)) return false;
    this.pending.set(req.context, { index, req, acks: new Set() });
    this.queue.push(req.context);
    return true;
  }

  recvAck(from: NodeId, context: string): Set<NodeId> | undefined {
    const st = this.pending.get(context);
    if (!st) return undefined;
    st.acks.add(from);
    return st.acks;
  }

  /** Removes and returns every request up to and including context. */
  advance(context: string): ReadIndexStatus[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const ctx of done) {
      const st = this.pending.get(ctx);
      if (st) out.push(st);
      this.pending.delete(ctx);
    }
    return out;
  }

  lastPendingContext(): string {
    return this.queue.length === 0 ? "" : this.queue[this.queue.length - 1]!;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
