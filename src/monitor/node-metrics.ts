import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { MonitoredNode } from "./monitored-node.ts";
import { type ReplicationEvent, ReplicationStats } from "./replication-stats.ts";

const REPLICATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ROLES = ["leader", "follower", "candidate", "preCandidate"] as const;

type ProposalResult = "ok" | "not_leader" | "lost" | "error";

/**
 * One node's metrics: a prom-client registry of its own (several nodes can share a process in tests),
 * counters fed by the node's event stream, gauges read from the node at scrape time. Series carry no
 * node label (the scraper labels its targets, as Prometheus convention has it); pickbox_node_info names
 * the node.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly stats: ReplicationStats;
  private readonly proposals: Counter<"result">;
  private readonly commitLatency: Histogram;
  private readonly replicationLatency: Histogram;
  private readonly g: Record<string, Gauge<string>> = {};

  constructor(
    private readonly node: MonitoredNode,
    private readonly now: () => number = Date.now,
  ) {
    this.stats = new ReplicationStats(now);
    const registers = [this.registry];
    new Gauge({
      name: "pickbox_node_info",
      help: "Always 1; names the node this endpoint belongs to",
      labelNames: ["node"],
      registers,
    }).set({ node: node.options.nodeId }, 1);

    this.proposals = new Counter({
      name: "pickbox_raft_proposals_total",
      help: "Proposals made on this node (as leader), by outcome",
      labelNames: ["result"],
      registers,
    });
    for (const r of ["ok", "not_leader", "lost", "error"]) this.proposals.inc({ result: r }, 0);
    this.commitLatency = new Histogram({
      name: "pickbox_raft_commit_latency_seconds",
      help: "Time from a proposal on this node (leader) until its entry is committed and applied here",
      buckets: COMMIT_BUCKETS,
      registers,
    });
    this.replicationLatency = new Histogram({
      name: "pickbox_replication_latency_seconds",
      help: "Time from a change on its origin (the file's mtime there) until it is applied on this node",
      buckets: REPLICATION_BUCKETS,
      registers,
    });

    const counterFrom = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counterFrom(
      "pickbox_files_replicated_total",
      "Files written through the log on this node",
      () => this.stats.counters().filesReplicated,
    );
    counterFrom(
      "pickbox_files_deleted_total",
      "File deletes applied on this node",
      () => this.stats.counters().filesDeleted,
    );
    counterFrom(
      "pickbox_bytes_replicated_total",
      "Bytes of files written through the log on this node",
      () => this.stats.counters().bytesReplicated,
    );
    counterFrom(
      "pickbox_network_received_bytes_total",
      "Bytes received from peers (Raft messages, forwarded proposals, chunks), since the node started",
      () => this.node.networkStats().received,
    );
    counterFrom(
      "pickbox_network_sent_bytes_total",
      "Bytes sent to peers (frames; the few bytes of each connection's handshake aside)",
      () => this.node.networkStats().sent,
    );
    counterFrom(
      "pickbox_conflicts_total",
      "Concurrent edits resolved into a sync-conflict copy",
      () => this.stats.counters().conflicts,
    );
    counterFrom(
      "pickbox_replication_errors_total",
      "Commands the state machine rejected plus proposals that failed for good",
      () => this.stats.counters().replicationErrors,
    );

    const gauge = (name: string, help: string, labelNames: string[] = []) => {
      this.g[name] = new Gauge({ name, help, labelNames, registers });
    };
    gauge("pickbox_raft_term", "Current Raft term");
    gauge("pickbox_raft_role", "1 for this node's current Raft role", ["role"]);
    gauge("pickbox_raft_leader_known", "1 when this node knows a leader");
    gauge("pickbox_raft_commit_index", "Highest log index known committed");
    gauge("pickbox_raft_applied_index", "Highest log index applied to the file state machine");
    gauge("pickbox_raft_last_log_index", "Last index in this node's log");
    gauge("pickbox_raft_apply_lag_entries", "Committed entries not yet applied here");
    gauge("pickbox_raft_members", "Members of the configuration", ["kind"]);
    gauge(
      "pickbox_raft_peer_lag_entries",
      "Leader only: entries the peer is behind the leader's last index",
      ["peer", "voter"],
    );
    gauge(
      "pickbox_raft_peer_last_contact_seconds",
      "Leader only: seconds since the leader last heard from the peer",
      ["peer"],
    );
    gauge("pickbox_files", "Live files in the index");
    gauge("pickbox_directories", "Live directories in the index");
    gauge("pickbox_file_bytes", "Total size of live files (logical bytes)");
    gauge("pickbox_chunks", "Chunks in the content-addressed chunk store");
    gauge("pickbox_chunk_bytes", "Bytes stored in the chunk store");
    gauge(
      "pickbox_dedup_ratio",
      "Logical file bytes / chunk store bytes (>1: deduplication saves space; uncollected old versions lower it)",
    );
    gauge("pickbox_pending_changes", "Local changes seen but not yet committed");
    gauge("pickbox_process_resident_memory_bytes", "Resident set size of the process");
    gauge("pickbox_process_heap_used_bytes", "JavaScript heap in use");
    gauge("pickbox_uptime_seconds", "Seconds since the Raft node started");
  }

  /** Feed one node event; returns the replication event it produced (null for non-file events). */
  handle(e: Record<string, unknown>): ReplicationEvent | null {
    const ev = this.stats.record(e);
    if (ev?.type === "apply" && ev.op === "put" && ev.latencyMs !== null)
      this.replicationLatency.observe(ev.latencyMs / 1000);
    return ev;
  }

  /**
   * Time every proposal made through node.raft.propose (the forwarder's and the file API's path on the
   * leader). RaftNode has no "proposed" event, so the method is wrapped; returns the undo.
   */
  instrumentProposals(): () => void {
    const raft = this.node.raft;
    const original = raft.propose;
    const wrapped = (data: Uint8Array): Promise<unknown> => {
      const started = this.now();
      let p: Promise<unknown>;
      try {
        p = original.call(raft, data);
      } catch (err) {
        this.countProposal(err);
        throw err;
      }
      return p.then(
        (v) => {
          this.proposals.inc({ result: "ok" });
          this.commitLatency.observe(Math.max(0, this.now() - started) / 1000);
          return v;
        },
        (err: unknown) => {
          this.countProposal(err);
          throw err;
        },
      );
    };
    (raft as { propose: typeof wrapped }).propose = wrapped;
    return () => {
      if (raft.propose === wrapped) (raft as { propose: typeof wrapped }).propose = original;
    };
  }

  private countProposal(err: unknown): void {
    const result = proposalResult(err);
    this.proposals.inc({ result });
    if (result === "error") this.stats.recordError();
  }

  /** Prometheus text exposition (version 0.0.4). */
  async prometheus(): Promise<string> {
    this.refreshGauges();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private refreshGauges(): void {
    const s = this.node.statusSnapshot();
    const set = (name: string, v: number, labels?: Record<string, string>) =>
      labels ? this.g[name]!.set(labels, v) : this.g[name]!.set(v);
    set("pickbox_raft_term", s.term);
    for (const r of ROLES) set("pickbox_raft_role", s.role === r ? 1 : 0, { role: r });
    set("pickbox_raft_leader_known", s.leader ? 1 : 0);
    set("pickbox_raft_commit_index", s.commit);
    set("pickbox_raft_applied_index", s.applied);
    set("pickbox_raft_last_log_index", s.lastIndex);
    set("pickbox_raft_apply_lag_entries", Math.max(0, s.commit - s.applied));
    set("pickbox_raft_members", s.voters.length, { kind: "voter" });
    set("pickbox_raft_members", s.learners.length, { kind: "learner" });
    // Peers come and go (and only a leader has progress): drop old series before writing current ones.
    this.g.pickbox_raft_peer_lag_entries!.reset();
    this.g.pickbox_raft_peer_last_contact_seconds!.reset();
    for (const p of s.progress) {
      if (p.id === s.node) continue;
      set("pickbox_raft_peer_lag_entries", Math.max(0, s.lastIndex - p.match), {
        peer: p.id,
        voter: String(p.voter),
      });
      set("pickbox_raft_peer_last_contact_seconds", (p.ticksSinceContact * this.node.tickMs) / 1000, {
        peer: p.id,
      });
    }
    const counts = this.node.index.count();
    const chunks = this.node.chunks.stats();
    set("pickbox_files", counts.files);
    set("pickbox_directories", counts.dirs);
    set("pickbox_file_bytes", counts.bytes);
    set("pickbox_chunks", chunks.chunks);
    set("pickbox_chunk_bytes", chunks.bytes);
    set("pickbox_dedup_ratio", dedupRatio(counts.bytes, chunks.bytes));
    set("pickbox_pending_changes", s.pendingChanges);
    const mem = process.memoryUsage();
    set("pickbox_process_resident_memory_bytes", mem.rss);
    set("pickbox_process_heap_used_bytes", mem.heapUsed);
    set("pickbox_uptime_seconds", s.uptimeMs / 1000);
  }
}

export function dedupRatio(logicalBytes: number, storedBytes: number): number {
  return storedBytes > 0 ? logicalBytes / storedBytes : 1;
}

function proposalResult(err: unknown): ProposalResult {
  const name = err instanceof Error ? err.name : "";
  const msg = err instanceof Error ? err.message : String(err);
  if (name === "NotLeaderError" || /not the leader/i.test(msg)) return "not_leader";
  if (/proposal lost|superseded|transfer-in-progress/i.test(msg)) return "lost";
  return "error";
}
