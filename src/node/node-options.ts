import path from "node:path";

/** Everything a node needs to start, after CLI parsing and port derivation. */
export interface NodeOptions {
  nodeId: string;
  /** Base data directory; the node's folder is <dataDir>/<nodeId>. */
  dataDir: string;
  /** Explicit node folder (the original's HEAD binary `-data-dir` semantics); overrides dataDir/nodeId. */
  folder?: string;
  bindHost: string;
  /** Address other nodes use to reach this one (host part); defaults to bindHost. */
  advertiseHost: string;
  raftPort: number;
  adminPort: number;
  monitorPort: number;
  clientPort: number;
  dashboardPort: number;
  bootstrap: boolean;
  /** Raft address ("host:port") of any member to join through. */
  join: string | null;
  secret: string | null;
  maxVoters: number;
  logLevel: string;
  /** Mirror logs to stderr (headless mode). */
  logToStderr: boolean;
  tickMs?: number;
  /** Minimum ms between two progress events of one chunk transfer (default 100; tests use 0). */
  transferEventMs?: number;
  electionTick?: number;
  snapshotThreshold?: number;
}

/**
 * Port schema documented by the original README (not its buggy code): for raft port P,
 * admin = P+1000, file API = P-1000, monitor = P-2000; one dashboard (8080) per host.
 */
export function derivePorts(raftPort: number): {
  adminPort: number;
  clientPort: number;
  monitorPort: number;
} {
  return { adminPort: raftPort + 1000, clientPort: raftPort - 1000, monitorPort: raftPort - 2000 };
}

export function nodeFolder(o: Pick<NodeOptions, "dataDir" | "nodeId" | "folder">): string {
  return path.resolve(o.folder ?? path.join(o.dataDir, o.nodeId));
}

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Validate before anything touches the disk or the network; messages say what to fix. */
export function validateNodeOptions(o: NodeOptions): void {
  if (!NODE_ID.test(o.nodeId)) {
    throw new Error(`invalid node id ${JSON.stringify(o.nodeId)}: use 1-64 letters, digits, '_' or '-'`);
  }
  if (!o.dataDir && !o.folder) throw new Error("data directory cannot be empty");
  for (const [name, port] of [
    ["port", o.raftPort],
    ["admin port", o.adminPort],
    ["monitor port", o.monitorPort],
    ["client port", o.clientPort],
    ["dashboard port", o.dashboardPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new Error(`${name} must be 0-65535, got ${port}`);
  }
  if (o.join !== null && !/^[^\s:]+:\d+$/.test(o.join)) {
    throw new Error(`--join must be host:port (the raft address of a member), got ${JSON.stringify(o.join)}`);
  }
  if (!Number.isInteger(o.maxVoters) || o.maxVoters < 1)
    throw new Error("--max-voters must be a positive integer");
}
