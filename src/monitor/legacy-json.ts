// The original's JSON bodies (pkg/monitoring), same keys in the same order, with real values.
import { formatGoDuration, formatRfc3339 } from "./go-format.ts";
import type { NodeStatus } from "./monitored-node.ts";
import type { ReplicationCounters } from "./replication-stats.ts";

export type LegacyState = "Leader" | "Follower" | "Candidate";

export function legacyState(role: NodeStatus["role"]): LegacyState {
  if (role === "leader") return "Leader";
  if (role === "follower") return "Follower";
  return "Candidate";
}

export interface LegacyMetrics {
  node_id: string;
  files_replicated: number;
  files_deleted: number;
  bytes_replicated: number;
  replication_errors: number;
  avg_replication_time_ms: number;
  last_replication_time: string;
  memory_usage_bytes: number;
  /** Go's goroutine count has no equivalent in one event loop: always 0. */
  goroutines: number;
  uptime: string;
  timestamp: string;
}

export interface LegacyHealth {
  node_id: string;
  state: LegacyState;
  leader: string;
  peers: string[];
  last_log_index: number;
  commit_index: number;
  applied_index: number;
  uptime: string;
  timestamp: string;
}

export function legacyMetrics(
  s: NodeStatus,
  c: ReplicationCounters,
  now: number,
  memoryBytes: number,
): LegacyMetrics {
  return {
    node_id: s.node,
    files_replicated: c.filesReplicated,
    files_deleted: c.filesDeleted,
    bytes_replicated: c.bytesReplicated,
    replication_errors: c.replicationErrors,
    avg_replication_time_ms: c.avgReplicationTimeMs,
    last_replication_time: c.lastReplicationAt === null ? "never" : formatRfc3339(c.lastReplicationAt),
    memory_usage_bytes: memoryBytes,
    goroutines: 0,
    uptime: formatGoDuration(s.uptimeMs),
    timestamp: formatRfc3339(now, { fraction: true }),
  };
}

export function legacyHealth(s: NodeStatus, now: number): LegacyHealth {
  const others = [...s.voters, ...s.learners].filter((id) => id !== s.node);
  return {
    node_id: s.node,
    state: legacyState(s.role),
    leader: s.leaderAddress ?? "",
    // Never null (the original's null broke its own dashboard script).
    peers: others.map((id) => s.addresses[id] ?? "").filter((a) => a !== ""),
    last_log_index: s.lastIndex,
    commit_index: s.commit,
    applied_index: s.applied,
    uptime: formatGoDuration(s.uptimeMs),
    timestamp: formatRfc3339(now, { fraction: true }),
  };
}

export function legacyRoot(s: NodeStatus): Record<string, string> {
  return {
    node_id: s.node,
    service: "pickbox-distributed-storage",
    state: legacyState(s.role),
    uptime: formatGoDuration(s.uptimeMs),
  };
}

/**
 * /api/cluster's "summary", keys sorted as the original emitted them. files_tracked and total_bytes are
 * the index's live files and bytes (the original reported its never-incremented counters); total_nodes
 * counts every member of the configuration.
 */
export function clusterSummary(
  s: NodeStatus,
  c: ReplicationCounters,
  totalNodes: number,
): Record<string, number | string> {
  return {
    avg_repl_time: c.avgReplicationTimeMs,
    current_state: legacyState(s.role),
    error_rate: (c.replicationErrors / (c.filesReplicated + 1)) * 100,
    files_tracked: s.files,
    leader_node: s.leaderAddress ?? "",
    total_bytes: s.bytes,
    total_nodes: totalNodes,
  };
}
