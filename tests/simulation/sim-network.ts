import type { Message, NodeId } from "../../src/raft/types.ts";
import type { StoredSnapshot } from "./sim-disk.ts";

/** A message on the wire, due at `at` (virtual time units). */
export interface InFlight {
  at: number;
  seq: number;
  msg: Message;
  /** Snapshot bytes travelling beside a "snap" message (the sender's stored snapshot). */
  snapshot: StoredSnapshot | null;
  /** The sender's incarnation: transport reports (snapshot done/failed) only reach the process that sent. */
  fromIncarnation: number;
  /** The network decided at send time to lose it; it is dropped at its delivery time. */
  lost: boolean;
}

/** Binary min-heap on (at, seq): delivery order is total and independent of insertion accidents. */
export class MessageQueue {
  private readonly heap: InFlight[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(m: InFlight): void {
    const h = this.heap;
    h.push(m);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  peek(): InFlight | undefined {
    return this.heap[0];
  }

  pop(): InFlight | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: InFlight, b: InFlight): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Directed reachability between nodes: blocked[from][to]. Symmetric partitions block both directions. */
export class Partitions {
  private readonly blocked = new Set<string>();

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(`${from}>${to}`);
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Cut every link between group a and group b, both directions. */
  split(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  healAll(): void {
    this.blocked.clear();
  }

  get active(): boolean {
    return this.blocked.size > 0;
  }

  describe(): string {
    return [...this.blocked].sort().join(",");
  }
}
