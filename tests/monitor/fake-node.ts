// A stand-in for PickboxNode with exactly the surface monitoring reads, for fast unit tests.

import type { ClusterMemberStatus, MonitoredNode, NodeStatus } from "../../src/monitor/monitored-node.ts";
import { NodeEvents } from "../../src/node/node-events.ts";

export interface LogLine {
  level: "info" | "warn" | "error" | "debug";
  fields: Record<string, unknown>;
  msg: string;
}

export function baseStatus(o: Partial<NodeStatus> = {}): NodeStatus {
  return {
    node: "node1",
    role: "leader",
    term: 3,
    leader: "node1",
    leaderAddress: "127.0.0.1:8001",
    leaderAdmin: "127.0.0.1:9001",
    commit: 42,
    applied: 41,
    lastIndex: 44,
    voters: ["node1", "node2", "node3"],
    learners: [],
    addresses: { node1: "127.0.0.1:8001", node2: "127.0.0.1:8002", node3: "127.0.0.1:8003" },
    progress: [
      {
        id: "node1",
        address: "127.0.0.1:8001",
        voter: true,
        match: 44,
        next: 45,
        state: "replicate",
        ticksSinceContact: 0,
      },
      {
        id: "node2",
        address: "127.0.0.1:8002",
        voter: true,
        match: 40,
        next: 45,
        state: "replicate",
        ticksSinceContact: 3,
      },
      {
        id: "node3",
        address: "127.0.0.1:8003",
        voter: true,
        match: 44,
        next: 45,
        state: "replicate",
        ticksSinceContact: 1,
      },
    ],
    files: 7,
    bytes: 3000,
    uptimeMs: 62_500,
    raftAddress: "127.0.0.1:8001",
    adminAddress: "127.0.0.1:9001",
    monitorAddress: "127.0.0.1:6001",
    clientAddress: "127.0.0.1:7001",
    pendingChanges: 2,
    ...o,
  };
}

export class FakeNode implements MonitoredNode {
  status: NodeStatus = baseStatus();
  members: ClusterMemberStatus[] | null = null;
  clusterCalls = 0;
  readonly events = new NodeEvents("node1");
  readonly lines: LogLine[] = [];
  readonly log = {
    info: (fields: object, msg: string) =>
      this.lines.push({ level: "info", fields: fields as Record<string, unknown>, msg }),
    warn: (fields: object, msg: string) =>
      this.lines.push({ level: "warn", fields: fields as Record<string, unknown>, msg }),
    error: (fields: object, msg: string) =>
      this.lines.push({ level: "error", fields: fields as Record<string, unknown>, msg }),
    debug: (fields: object, msg: string) =>
      this.lines.push({ level: "debug", fields: fields as Record<string, unknown>, msg }),
  } as unknown as MonitoredNode["log"];
  counts = { files: 7, dirs: 2, bytes: 3000 };
  chunkStats = { chunks: 5, bytes: 1500 };
  readonly index = { count: () => this.counts };
  readonly chunks = { stats: () => this.chunkStats };
  network = { received: 123_456, sent: 654_321 };
  networkStats(): { received: number; sent: number } {
    return this.network;
  }
  /** What the next raft.propose does. */
  proposeImpl: (data: Uint8Array) => Promise<unknown> = async () => "ok";
  readonly raft = {
    propose: (data: Uint8Array) => this.proposeImpl(data),
    status: () => ({ term: this.status.term }),
  };
  readonly tickMs = 50;

  constructor(
    readonly options: { nodeId: string; bindHost: string; monitorPort: number; dashboardPort: number } = {
      nodeId: "node1",
      bindHost: "127.0.0.1",
      monitorPort: 0,
      dashboardPort: 0,
    },
  ) {}

  statusSnapshot(): NodeStatus {
    return structuredClone(this.status);
  }

  async clusterStatus(): Promise<ClusterMemberStatus[]> {
    this.clusterCalls++;
    if (this.members) return this.members;
    return this.status.voters.map((id) => ({
      id,
      voter: true,
      address: this.status.addresses[id] ?? "",
      status: id === this.status.node ? this.statusSnapshot() : null,
      error: id === this.status.node ? null : "connect ECONNREFUSED",
    }));
  }
}
