import { describe, expect, test } from "bun:test";
import { clusterSummary, legacyHealth, legacyMetrics, legacyRoot } from "../../src/monitor/legacy-json.ts";
import type { ReplicationCounters } from "../../src/monitor/replication-stats.ts";
import { baseStatus } from "./fake-node.ts";

const counters: ReplicationCounters = {
  filesReplicated: 4,
  filesDeleted: 1,
  bytesReplicated: 4096,
  replicationErrors: 1,
  conflicts: 0,
  avgReplicationTimeMs: 12,
  lastReplicationAt: Date.UTC(2025, 5, 30, 8, 0, 0),
};
const now = Date.UTC(2025, 5, 30, 8, 0, 1, 500);

describe("the original's JSON bodies", () => {
  test("/metrics: the original's keys in its order, with real values", () => {
    const m = legacyMetrics(baseStatus(), counters, now, 123456);
    expect(Object.keys(m)).toEqual([
      "node_id",
      "files_replicated",
      "files_deleted",
      "bytes_replicated",
      "replication_errors",
      "avg_replication_time_ms",
      "last_replication_time",
      "memory_usage_bytes",
      "goroutines",
      "uptime",
      "timestamp",
    ]);
    expect(m).toMatchObject({
      node_id: "node1",
      files_replicated: 4,
      files_deleted: 1,
      bytes_replicated: 4096,
      replication_errors: 1,
      avg_replication_time_ms: 12,
      memory_usage_bytes: 123456,
      goroutines: 0,
      uptime: "1m2.5s",
    });
    expect(Date.parse(m.last_replication_time)).toBe(counters.lastReplicationAt!);
    expect(m.last_replication_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    expect(Date.parse(m.timestamp)).toBe(now);
    expect(
      legacyMetrics(baseStatus(), { ...counters, lastReplicationAt: null }, now, 1).last_replication_time,
    ).toBe("never");
  });

  test("/health: the original's keys, peers are the other members' raft addresses", () => {
    const h = legacyHealth(
      baseStatus({ learners: ["node4"], addresses: { ...baseStatus().addresses, node4: "h:4" } }),
      now,
    );
    expect(Object.keys(h)).toEqual([
      "node_id",
      "state",
      "leader",
      "peers",
      "last_log_index",
      "commit_index",
      "applied_index",
      "uptime",
      "timestamp",
    ]);
    expect(h).toMatchObject({
      node_id: "node1",
      state: "Leader",
      leader: "127.0.0.1:8001",
      peers: ["127.0.0.1:8002", "127.0.0.1:8003", "h:4"],
      last_log_index: 44,
      commit_index: 42,
      applied_index: 41,
    });
  });

  test('/health alone and without a leader: peers is [] (never null), leader is ""', () => {
    const h = legacyHealth(
      baseStatus({
        role: "preCandidate",
        leader: null,
        leaderAddress: null,
        voters: ["node1"],
        progress: [],
      }),
      now,
    );
    expect(h.peers).toEqual([]);
    expect(h.leader).toBe("");
    expect(h.state).toBe("Candidate");
    expect(legacyHealth(baseStatus({ role: "follower" }), now).state).toBe("Follower");
  });

  test("/ names the service", () => {
    expect(legacyRoot(baseStatus())).toEqual({
      node_id: "node1",
      service: "pickbox-distributed-storage",
      state: "Leader",
      uptime: "1m2.5s",
    });
  });

  test("/api/cluster summary: sorted keys, error rate = errors / (files + 1) × 100", () => {
    const s = clusterSummary(baseStatus(), counters, 3);
    expect(Object.keys(s)).toEqual([...Object.keys(s)].sort());
    expect(s).toEqual({
      avg_repl_time: 12,
      current_state: "Leader",
      error_rate: 20,
      files_tracked: 7,
      leader_node: "127.0.0.1:8001",
      total_bytes: 3000,
      total_nodes: 3,
    });
  });
});
