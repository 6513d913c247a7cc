// Builders for cluster data as CLUSTER_JSON / clusterStatus() would report it.
import type { ClusterMemberStatus, NodeStatus } from "../../tui/model/types.ts";

export function nodeStatus(node: string, over: Partial<NodeStatus> = {}): NodeStatus {
  const n = Number(node.replace(/\D/g, "")) || 1;
  return {
    node,
    role: "follower",
    term: 2,
    leader: "node1",
    leaderAddress: "127.0.0.1:8001",
    leaderAdmin: null,
    commit: 10,
    applied: 10,
    lastIndex: 10,
    voters: ["node1", "node2", "node3"],
    learners: [],
    addresses: {},
    progress: [],
    files: 0,
    bytes: 0,
    uptimeMs: 65_000,
    raftAddress: `127.0.0.1:${8000 + n}`,
    adminAddress: `127.0.0.1:${9000 + n}`,
    monitorAddress: `127.0.0.1:${6000 + n}`,
    clientAddress: `127.0.0.1:${7000 + n}`,
    pendingChanges: 0,
    ...over,
  };
}

export function leaderOf3(over: Partial<NodeStatus> = {}): NodeStatus {
  return nodeStatus("node1", {
    role: "leader",
    progress: [
      {
        id: "node1",
        address: "127.0.0.1:8001",
        voter: true,
        match: 10,
        next: 11,
        state: "replicate",
        ticksSinceContact: 0,
      },
      {
        id: "node2",
        address: "127.0.0.1:8002",
        voter: true,
        match: 10,
        next: 11,
        state: "replicate",
        ticksSinceContact: 1,
      },
      {
        id: "node3",
        address: "127.0.0.1:8003",
        voter: true,
        match: 10,
        next: 11,
        state: "replicate",
        ticksSinceContact: 2,
      },
    ],
    ...over,
  });
}

export function member(
  id: string,
  status: NodeStatus | null,
  over: Partial<ClusterMemberStatus> = {},
): ClusterMemberStatus {
  const n = Number(id.replace(/\D/g, "")) || 1;
  return {
    id,
    voter: true,
    address: `127.0.0.1:${8000 + n}`,
    status,
    error: status ? null : "connection refused",
    ...over,
  };
}

/** node1 leads node2 and node3, everything caught up at index 10. */
export function threeHealthy(): ClusterMemberStatus[] {
  return [
    member("node1", leaderOf3()),
    member("node2", nodeStatus("node2")),
    member("node3", nodeStatus("node3")),
  ];
}
