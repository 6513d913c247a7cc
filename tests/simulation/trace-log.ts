import type { Message } from "../../src/raft/types.ts";

export function formatMessage(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} t${m.term}`;
  if (m.index !== 0 || m.logTerm !== 0) s += ` i${m.index} lt${m.logTerm}`;
  if (m.entries.length > 0) s += ` ents[${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]`;
  if (m.commit !== 0) s += ` c${m.commit}`;
  if (m.reject) s += ` reject hint=${m.rejectHint}`;
  if (m.snapshot) s += ` snap=${m.snapshot.index}@t${m.snapshot.term}`;
  if (m.context !== "") s += ` ctx=${m.context}`;
  if (m.transfer) s += " transfer";
  return s;
}

interface TraceItem {
  t: number;
  text: string;
  msg: Message | null;
}

const TAIL = 60;

/**
 * Event trace. With a sink every event is formatted and emitted at once (replay --trace); otherwise only
 * the last events are kept, unformatted, so a failing seed can show its tail cheaply.
 */
export class TraceLog {
  private readonly ring: TraceItem[] = [];
  private next = 0;
  private count = 0;

  constructor(private readonly sink?: (line: string) => void) {}

  /** `verbose` events (ticks) are only worth printing in a full trace. */
  add(t: number, text: string, verbose = false): void {
    if (this.sink) {
      this.sink(`${t} ${text}`);
      return;
    }
    if (!verbose) this.push(t, text, null);
  }

  addMessage(t: number, what: string, m: Message, why: string): void {
    if (this.sink) {
      this.sink(`${t} ${what} ${formatMessage(m)}${why ? ` (${why})` : ""}`);
      return;
    }
    this.push(t, why ? `${what}(${why})` : what, m);
  }

  private push(t: number, text: string, msg: Message | null): void {
    const item = this.ring[this.next];
    if (item) {
      item.t = t;
      item.text = text;
      item.msg = msg;
    } else {
      this.ring[this.next] = { t, text, msg };
    }
    this.next = (this.next + 1) % TAIL;
    this.count++;
  }

  /** The last events, oldest first. */
  tail(): string[] {
    const n = Math.min(this.count, TAIL);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const item = this.ring[(this.next - n + i + TAIL) % TAIL]!;
      out.push(`${item.t} ${item.text}${item.msg ? ` ${formatMessage(item.msg)}` : ""}`);
    }
    return out;
  }
}
