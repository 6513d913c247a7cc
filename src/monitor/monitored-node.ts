import type { Logger } from "../node/logger.ts";
import type { NodeEvent } from "../node/node-events.ts";
import type { ClusterMemberStatus, NodeStatus } from "../node/pickbox-node.ts";

/**
 * The parts of a PickboxNode that monitoring reads. PickboxNode satisfies it as is; unit tests pass a
 * small fake. Monitoring only reads, except for wrapping raft.propose to time proposals.
 */
export interface MonitoredNode {
  readonly options: {
    readonly nodeId: string;
    readonly bindHost: string;
    readonly monitorPort: number;
    readonly dashboardPort: number;
  };
  readonly log: Pick<Logger, "info" | "warn" | "error" | "debug">;
  readonly events: { subscribe(listener: (e: NodeEvent) => void): () => void };
  readonly index: { count(): { files: number; dirs: number; bytes: number } };
  readonly chunks: { stats(): { chunks: number; bytes: number } };
  /** Bytes this node's peer transport received and sent, since it started. */
  networkStats(): { received: number; sent: number };
  readonly raft: { propose: (data: Uint8Array) => Promise<unknown>; status(): { term: number } };
  readonly tickMs: number;
  statusSnapshot(): NodeStatus;
  clusterStatus(timeoutMs?: number): Promise<ClusterMemberStatus[]>;
}

export type { ClusterMemberStatus, NodeStatus };
