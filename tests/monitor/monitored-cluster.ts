// In-process Pickbox nodes with monitoring started around them (as PickboxNode.start() will once wired):
// real Raft over TCP, real folders, real HTTP servers, one shared dashboard port.

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Monitoring, startMonitoring } from "../../src/monitor/start-monitoring.ts";
import { PickboxNode } from "../../src/node/pickbox-node.ts";
import { freePorts, waitFor } from "../integration/helpers/cluster.ts";
import { testNodeOptions } from "../node/test-node-options.ts";

export interface MonitoredNodeHandle {
  node: PickboxNode;
  monitoring: Monitoring;
  monitorPort: number;
  adminPort: number;
  folder: string;
}

export class MonitoredCluster {
  readonly nodes: (MonitoredNodeHandle | null)[] = [];
  dashboardPort = 0;

  private constructor(readonly dir: string) {}

  static async start(size: number, o: { dashboardRetryMs?: number } = {}): Promise<MonitoredCluster> {
    const c = new MonitoredCluster(mkdtempSync(path.join(os.tmpdir(), "pickbox-monitor-")));
    try {
      const ports = await freePorts(size * 3 + 1);
      c.dashboardPort = ports[size * 3]!;
      for (let i = 0; i < size; i++) {
        const options = testNodeOptions({
          nodeId: `node${i + 1}`,
          dataDir: c.dir,
          raftPort: ports[i * 3]!,
          adminPort: ports[i * 3 + 1]!,
          monitorPort: ports[i * 3 + 2]!,
          dashboardPort: c.dashboardPort,
          join: i === 0 ? null : `127.0.0.1:${ports[0]}`,
          logLevel: "info",
        });
        const node = new PickboxNode(options);
        await node.start();
        const monitoring = await startMonitoring(node, {
          dashboardRetryMs: o.dashboardRetryMs ?? 200,
          metricsLogMs: 0,
        });
        c.nodes.push({
          node,
          monitoring,
          monitorPort: options.monitorPort,
          adminPort: options.adminPort,
          folder: node.folder,
        });
        if (i === 0) await waitFor("node1 to lead", () => node.raft.isLeader, 10_000);
      }
      if (size > 1) {
        await waitFor(
          "every node to join",
          () => c.handle(0).node.raft.members().voters.length === size,
          20_000,
        );
        await waitFor(
          "every node to know the leader",
          () => c.live().every((n) => n.node.raft.leader),
          20_000,
        );
      }
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  handle(i: number): MonitoredNodeHandle {
    const h = this.nodes[i];
    if (!h) throw new Error(`node ${i} is not running`);
    return h;
  }

  live(): MonitoredNodeHandle[] {
    return this.nodes.filter((n): n is MonitoredNodeHandle => n !== null);
  }

  monitorUrl(i: number, p: string): string {
    return `http://127.0.0.1:${this.handle(i).monitorPort}${p}`;
  }

  dashboardUrl(p = "/"): string {
    return `http://127.0.0.1:${this.dashboardPort}${p}`;
  }

  /** Stop a node the way a crash looks to the others: its ports close, it answers nothing. */
  async stopNode(i: number): Promise<void> {
    const h = this.handle(i);
    this.nodes[i] = null;
    await h.monitoring.close();
    await h.node.stop();
  }

  async destroy(): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) {
      if (this.nodes[i]) await this.stopNode(i).catch(() => {});
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
