// Options of an in-process test node: loopback only, no monitor/file-API/dashboard ports of its own
// unless asked, fast ticks, quiet logs to the node's file. The first node (join null) bootstraps.
import type { NodeOptions } from "../../src/node/node-options.ts";

export function testNodeOptions(
  o: Pick<NodeOptions, "nodeId" | "dataDir" | "raftPort" | "adminPort" | "join"> & Partial<NodeOptions>,
): NodeOptions {
  return {
    bindHost: "127.0.0.1",
    advertiseHost: "127.0.0.1",
    monitorPort: 0,
    clientPort: 0,
    dashboardPort: 0,
    bootstrap: o.join === null,
    secret: null,
    maxVoters: 5,
    logLevel: "warn",
    logToStderr: false,
    tickMs: 20,
    ...o,
  };
}
