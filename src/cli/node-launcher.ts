// Starts Pickbox nodes as child processes of the CLI (for `pickbox script demo-3-nodes`), records their PIDs
// under <data-dir>/pids and their output under <data-dir>/logs, and stops exactly those processes again.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { type Subprocess, spawn } from "bun";
import { adminRequest } from "../admin/admin-client.ts";
import { selfCommand } from "./node-runtime.ts";
import { logDir, logFile, removePidFile, stopNodeProcess, writePidFile } from "./run-files.ts";

export interface LaunchSpec {
  nodeId: string;
  raftPort: number;
  adminPort: number;
  monitorPort: number;
  clientPort: number;
  dashboardPort: number;
  /** Raft address to join through; null bootstraps (node multi). */
  join: string | null;
  maxVoters?: number;
}

export interface LaunchedNode {
  spec: LaunchSpec;
  proc: Subprocess;
  adminAddress: string;
}

export class NodeLauncher {
  readonly nodes: LaunchedNode[] = [];

  constructor(
    private readonly dataDir: string,
    private readonly command: string[] = selfCommand(),
    private readonly host = "127.0.0.1",
  ) {}

  /** Spawns `node multi` with every port explicit; output goes to the node's log file (appended). */
  start(spec: LaunchSpec): LaunchedNode {
    mkdirSync(logDir(this.dataDir), { recursive: true });
    const fd = openSync(logFile(this.dataDir, spec.nodeId), "a");
    const args = [
      "--data-dir",
      this.dataDir,
      "node",
      "multi",
      "--node-id",
      spec.nodeId,
      "--port",
      String(spec.raftPort),
      "--admin-port",
      String(spec.adminPort),
      "--monitor-port",
      String(spec.monitorPort),
      "--client-port",
      String(spec.clientPort),
      "--dashboard-port",
      String(spec.dashboardPort),
      "--bind",
      this.host,
      "--no-tui",
      ...(spec.maxVoters ? ["--max-voters", String(spec.maxVoters)] : []),
      ...(spec.join ? ["--join", spec.join] : []),
    ];
    let proc: Subprocess;
    try {
      proc = spawn([...this.command, ...args], {
        stdin: "ignore",
        stdout: fd,
        stderr: fd,
        env: { ...process.env, NO_COLOR: "1" },
      });
    } finally {
      closeSync(fd);
    }
    writePidFile(this.dataDir, spec.nodeId, proc.pid);
    const node = { spec, proc, adminAddress: `${this.host}:${spec.adminPort}` };
    this.nodes.push(node);
    return node;
  }

  /** Resolves once the node answers STATUS as leader; rejects if it exits or the deadline passes. */
  async waitLeader(node: LaunchedNode, timeoutMs: number): Promise<void> {
    await this.poll(node, timeoutMs, "to become leader", async () =>
      /^state: Leader$/m.test(await adminRequest(node.adminAddress, "STATUS", { timeoutMs: 1_000 })),
    );
  }

  /** Resolves once every launched node knows a leader and lists at least `count` members. */
  async waitReady(count: number, timeoutMs: number): Promise<void> {
    await Promise.all(
      this.nodes.map((node) =>
        this.poll(node, timeoutMs, `to see ${count} members and a leader`, async () => {
          const reply = await adminRequest(node.adminAddress, "STATUS_JSON", { timeoutMs: 1_000 });
          const st = JSON.parse(reply) as { leader: string | null; peers: unknown[] };
          return st.leader !== null && st.peers.length >= count;
        }),
      ),
    );
  }

  /** True once every node this launcher started has exited. */
  get allExited(): boolean {
    return this.nodes.every((n) => n.proc.exitCode !== null || n.proc.signalCode !== null);
  }

  private async poll(
    node: LaunchedNode,
    timeoutMs: number,
    what: string,
    probe: () => Promise<boolean>,
  ): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = "";
    while (performance.now() < deadline) {
      if (node.proc.exitCode !== null || node.proc.signalCode !== null) {
        throw new Error(
          `${node.spec.nodeId} exited (${node.proc.exitCode ?? node.proc.signalCode}); see ${logFile(this.dataDir, node.spec.nodeId)}`,
        );
      }
      try {
        if (await probe()) return;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await Bun.sleep(100);
    }
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for ${node.spec.nodeId} ${what}${last ? ` (${last})` : ""}`,
    );
  }

  /** Stops every node this launcher started (SIGTERM, then SIGKILL after graceMs), in parallel. */
  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.proc.exitCode === null && n.proc.signalCode === null) {
          await stopNodeProcess(n.proc.pid, n.spec.nodeId, graceMs);
        }
        await n.proc.exited;
        removePidFile(this.dataDir, n.spec.nodeId);
      }),
    );
  }
}
