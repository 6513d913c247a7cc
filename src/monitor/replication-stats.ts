// What the FSM's events say about replication on one node: the original's counters (with real values,
// not its zeros), recent events for the dashboard and latency samples. Pure: time comes from `now`.

/** One replication event as the dashboard and the logs show it. */
export interface ReplicationEvent {
  /** When this node saw it (epoch ms). */
  at: number;
  type: "apply" | "delete" | "conflict" | "rejected" | "restore";
  op: string;
  path: string;
  origin: string;
  size: number;
  index: number;
  /** Detected on the origin → applied here (origin mtime to now), ms; null when the event has no mtime. */
  latencyMs: number | null;
  /** Time the FSM spent applying the command, ms. */
  applyMs: number;
  /** Conflicts: where the later-committed version was written. */
  conflictPath?: string;
  /** Rejections: why. */
  detail?: string;
}

export interface ReplicationCounters {
  filesReplicated: number;
  filesDeleted: number;
  bytesReplicated: number;
  replicationErrors: number;
  conflicts: number;
  /** The original's running average: first sample as is, then (old*9 + new)/10 in integer ms. */
  avgReplicationTimeMs: number;
  /** Epoch ms of the last files-replicated increment, null before the first. */
  lastReplicationAt: number | null;
}

export interface LatencySample {
  at: number;
  ms: number;
  path: string;
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

export class ReplicationStats {
  private readonly c: ReplicationCounters = {
    filesReplicated: 0,
    filesDeleted: 0,
    bytesReplicated: 0,
    replicationErrors: 0,
    conflicts: 0,
    avgReplicationTimeMs: 0,
    lastReplicationAt: null,
  };
  private samplesSeen = 0;
  private readonly events: ReplicationEvent[] = [];
  private readonly conflicts: ReplicationEvent[] = [];
  private readonly samples: LatencySample[] = [];

  constructor(
    private readonly now: () => number,
    private readonly keepEvents = 100,
    private readonly keepSamples = 300,
  ) {}

  /**
   * Feed one node event (the shape NodeEvents publishes: FSM events plus raft role/member events).
   * Returns the replication event it produced, or null for events that are not about files.
   */
  record(e: Record<string, unknown>): ReplicationEvent | null {
    const at = this.now();
    const base = {
      at,
      path: str(e.path),
      origin: str(e.origin),
      index: num(e.index),
      applyMs: num(e.applyMs),
    };
    let ev: ReplicationEvent;
    switch (e.type) {
      case "apply": {
        const op = str(e.op) || "put";
        // The origin's mtime of the change: with one wall clock (one host, or NTP), now − mtime is the
        // detected → applied latency. Clock skew can make it negative: clamp.
        const latencyMs = typeof e.mtimeMs === "number" ? Math.max(0, at - e.mtimeMs) : null;
        ev = { ...base, type: "apply", op, size: num(e.size), latencyMs };
        if (op === "put") {
          this.countReplicated(ev.size);
          if (latencyMs !== null) this.observe(latencyMs, ev.path);
        }
        break;
      }
      case "conflict":
        ev = {
          ...base,
          type: "conflict",
          op: "put",
          size: num(e.size),
          latencyMs: null,
          conflictPath: str(e.conflictPath),
        };
        this.c.conflicts++;
        // The losing version is a file written everywhere under its conflict name.
        this.countReplicated(ev.size);
        break;
      case "delete":
        ev = { ...base, type: "delete", op: str(e.op) || "delete", size: 0, latencyMs: null };
        if (ev.op === "delete") this.c.filesDeleted++;
        break;
      case "skip":
        if (e.reason !== "rejected") return null;
        ev = { ...base, type: "rejected", op: "", size: 0, latencyMs: null, detail: str(e.detail) };
        this.c.replicationErrors++;
        break;
      case "restore":
        // A snapshot install materialised files in bulk (this node was far behind).
        ev = { ...base, type: "restore", op: "snapshot", size: num(e.files), latencyMs: null };
        if (num(e.written) > 0) {
          this.c.filesReplicated += num(e.written);
          this.c.lastReplicationAt = at;
        }
        this.c.filesDeleted += num(e.removed);
        break;
      default:
        return null;
    }
    this.events.push(ev);
    if (this.events.length > this.keepEvents) this.events.shift();
    if (ev.type === "conflict") {
      // Kept apart: a burst of applies must not push the last conflicts out of sight.
      this.conflicts.push(ev);
      if (this.conflicts.length > this.keepEvents) this.conflicts.shift();
    }
    return ev;
  }

  /** A failure the FSM events do not show (e.g. a proposal that failed for good). */
  recordError(): void {
    this.c.replicationErrors++;
  }

  counters(): ReplicationCounters {
    return { ...this.c };
  }

  /** Newest last. */
  recentEvents(): ReplicationEvent[] {
    return [...this.events];
  }

  /** Newest last. */
  recentConflicts(): ReplicationEvent[] {
    return [...this.conflicts];
  }

  /** Newest last. */
  latencySamples(): LatencySample[] {
    return [...this.samples];
  }

  private countReplicated(size: number): void {
    this.c.filesReplicated++;
    this.c.bytesReplicated += size;
    this.c.lastReplicationAt = this.now();
  }

  private observe(ms: number, path: string): void {
    const sample = Math.trunc(ms);
    this.c.avgReplicationTimeMs =
      this.samplesSeen === 0 ? sample : Math.trunc((this.c.avgReplicationTimeMs * 9 + sample) / 10);
    this.samplesSeen++;
    this.samples.push({ at: this.now(), ms, path });
    if (this.samples.length > this.keepSamples) this.samples.shift();
  }
}

/** The q-quantile (0..1) of values, nearest-rank; null when empty. */
export function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
