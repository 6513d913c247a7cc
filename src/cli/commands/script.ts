import { existsSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { canRunTui, runTui } from "../../../tui/run-tui.tsx";
import { attachSource } from "../../../tui/source/attach-source.ts";
import { fetchClusterView } from "../cluster-status.ts";
import { NodeLauncher } from "../node-launcher.ts";
import { selfCommand } from "../node-runtime.ts";
import { intOption } from "../parse.ts";
import { isAlive, isNodeProcess, readPidFiles, removePidFile, stopNodeProcess } from "../run-files.ts";
import { createPlainStatusView, type DemoInfo, type StatusViewFactory } from "../status-view.ts";

interface DemoFlags {
  port: number;
  adminPort?: number;
  monitorPort?: number;
  clientPort?: number;
  dashboardPort: number;
  maxVoters?: number;
  fresh?: boolean;
  binary?: string;
  timeout: number;
  refresh: number;
}

/** `pickbox script demo-3-nodes` and `pickbox script cleanup`. */
export function registerScriptCommands(
  program: Command,
  statusView: StatusViewFactory = createPlainStatusView,
): void {
  const script = program.command("script").description("ready-made demos and housekeeping");

  script
    .command("demo-3-nodes")
    .description("start a 3-node cluster under --data-dir, show its live status, stop every node on Ctrl-C")
    .option("-p, --port <port>", "raft port of node1; node i uses port+i-1", intOption, 8001)
    .option("--admin-port <port>", "admin port of node1 (default: port+1000)", intOption)
    .option("--monitor-port <port>", "monitor port of node1 (default: port-2000)", intOption)
    .option("--client-port <port>", "file API port of node1 (default: port-1000)", intOption)
    .option("--dashboard-port <port>", "web dashboard port", intOption, 8080)
    .option("--max-voters <n>", "passed to every node", intOption)
    .option("--fresh", "delete the three node folders first (default: keep them; nodes resume their state)")
    .option("--binary <path>", "pickbox binary to run the nodes with (default: this one)")
    .option("--timeout <ms>", "give up if the cluster is not up within this time", intOption, 60_000)
    .option("--refresh <ms>", "status refresh interval", intOption, 1_000)
    .addHelpText(
      "after",
      `
Nodes: node1..node3 with raft ports P..P+2, admin A..A+2, monitor M..M+2, file API C..C+2.
PID files: <data-dir>/pids/<node>.pid, logs: <data-dir>/logs/<node>.log.
If this process dies without stopping them, \`pickbox script cleanup\` stops them by PID file.`,
    )
    .action(async (flags: DemoFlags, cmd: Command) => {
      const { dataDir } = cmd.optsWithGlobals() as { dataDir: string };
      await runDemo(path.resolve(dataDir), flags, statusView);
    });

  script
    .command("cleanup")
    .description("stop the nodes started under --data-dir (by PID file) and delete --data-dir")
    .option("--keep-data", "stop the nodes but keep the data")
    .action(async (flags: { keepData?: boolean }, cmd: Command) => {
      const { dataDir } = cmd.optsWithGlobals() as { dataDir: string };
      await cleanup(path.resolve(dataDir), Boolean(flags.keepData));
    });
}

function runningNodes(dataDir: string) {
  return readPidFiles(dataDir).filter((e) => isAlive(e.pid) && isNodeProcess(e.pid, e.nodeId));
}

async function runDemo(dataDir: string, f: DemoFlags, statusView: StatusViewFactory): Promise<void> {
  const out = process.stdout;
  const running = runningNodes(dataDir);
  if (running.length > 0) {
    throw new Error(
      `nodes started under ${dataDir} are still running (${running.map((e) => `${e.nodeId} pid ${e.pid}`).join(", ")}); ` +
        "stop them first with `pickbox script cleanup --keep-data` (or `pickbox script cleanup` to also delete the data)",
    );
  }
  const ids = ["node1", "node2", "node3"];
  if (f.fresh) for (const id of ids) rmSync(path.join(dataDir, id), { recursive: true, force: true });
  const base = {
    raft: f.port,
    admin: f.adminPort ?? f.port + 1000,
    monitor: f.monitorPort ?? f.port - 2000,
    client: f.clientPort ?? f.port - 1000,
  };
  for (const [name, p] of Object.entries(base)) {
    if (p < 1 || p + ids.length - 1 > 65535) throw new Error(`${name} ports ${p}..${p + 2} are out of range`);
  }
  out.write("🚀 Starting 3-node cluster demo...\n");
  const taken = await busyPorts([
    ...ids.flatMap((id, i) =>
      Object.entries(base).map(([kind, p]) => ({ what: `${id} ${kind} port`, port: p + i })),
    ),
  ]);
  if (taken.length > 0) {
    throw new Error(
      `ports in use by another process: ${taken.map((b) => `${b.port} (${b.what})`).join(", ")}; pick other ports with --port/--admin-port/--monitor-port/--client-port`,
    );
  }
  const launcher = new NodeLauncher(dataDir, f.binary ? [path.resolve(f.binary)] : selfCommand());

  let view: ReturnType<StatusViewFactory> | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    view?.close();
    out.write(`\n🛑 ${reason}: stopping ${launcher.nodes.length} node(s)...\n`);
    await launcher.stopAll();
    out.write(`✅ All nodes stopped${existsSync(dataDir) ? ` (data kept in ${dataDir})` : ""}\n`);
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown("interrupted", 0));
  process.on("SIGTERM", () => void shutdown("terminated", 0));
  process.on("SIGHUP", () => void shutdown("terminal closed", 0));

  try {
    const spec = (i: number) => ({
      nodeId: ids[i]!,
      raftPort: base.raft + i,
      adminPort: base.admin + i,
      monitorPort: base.monitor + i,
      clientPort: base.client + i,
      dashboardPort: f.dashboardPort,
      join: i === 0 ? null : `127.0.0.1:${base.raft}`,
      maxVoters: f.maxVoters,
    });
    const first = launcher.start(spec(0));
    out.write(`✅ Node node1 started (PID: ${first.proc.pid})\n`);
    await launcher.waitLeader(first, f.timeout);
    for (let i = 1; i < ids.length; i++) {
      const n = launcher.start(spec(i));
      out.write(`✅ Node ${n.spec.nodeId} started (PID: ${n.proc.pid})\n`);
    }
    await launcher.waitReady(ids.length, f.timeout);
  } catch (err) {
    out.write(`❌ ${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown("start-up failed", 1);
    return;
  }
  if (stopping) return;

  const info: DemoInfo = {
    dataDir,
    nodes: launcher.nodes.map((n) => ({
      id: n.spec.nodeId,
      pid: n.proc.pid,
      folder: path.join(dataDir, n.spec.nodeId),
      adminAddress: n.adminAddress,
    })),
    dashboardUrl: `http://127.0.0.1:${f.dashboardPort}`,
  };
  out.write(`✅ Cluster is up: ${ids.length} nodes, PID files in ${path.join(dataDir, "pids")}\n`);
  if (statusView === createPlainStatusView && canRunTui()) {
    // On a terminal the demo is the live TUI, attached to the cluster through node1's admin port
    // (it fails over to another member if node1 goes down). q or Ctrl-C stops every node.
    await runTui(attachSource({ address: info.nodes[0]!.adminAddress, pollMs: 1000 }));
    await shutdown("TUI closed", 0);
    return;
  }
  view = statusView(out, info);
  const refresh = async () => {
    // Ask any node that is still running; the first that answers describes the whole cluster.
    let lastError = "no node is running";
    for (const n of launcher.nodes) {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue;
      try {
        const v = await fetchClusterView(n.adminAddress, { timeoutMs: 2_000 });
        if (!stopping) view?.update(v, null);
        return;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    if (!stopping) view?.update(null, lastError);
  };
  let busy = false;
  const tick = () => {
    if (launcher.allExited) {
      void shutdown("every node has exited", 1);
      return;
    }
    if (busy) return;
    busy = true;
    void refresh().finally(() => {
      busy = false;
    });
  };
  tick();
  timer = setInterval(tick, f.refresh);
  await new Promise<never>(() => {});
}

/** The ports among `ports` that cannot be bound on 127.0.0.1 right now. */
async function busyPorts<T extends { port: number }>(ports: T[]): Promise<T[]> {
  const free = await Promise.all(
    ports.map(
      ({ port }) =>
        new Promise<boolean>((resolve) => {
          const srv = net.createServer();
          srv.once("error", () => resolve(false));
          srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
        }),
    ),
  );
  return ports.filter((_, i) => !free[i]);
}

/** Stops every node with a PID file under dataDir (checked to still be that node), then deletes dataDir. */
async function cleanup(dataDir: string, keepData: boolean): Promise<void> {
  const out = process.stdout;
  const entries = readPidFiles(dataDir);
  if (entries.length > 0) out.write(`🛑 Stopping nodes started under ${dataDir}...\n`);
  await Promise.all(
    entries.map(async (e) => {
      const outcome = await stopNodeProcess(e.pid, e.nodeId);
      const msg = {
        stopped: `stopped ${e.nodeId} (pid ${e.pid})`,
        killed: `killed ${e.nodeId} (pid ${e.pid}): it did not stop within 10 s of SIGTERM`,
        "not-running": `${e.nodeId}: pid ${e.pid} is not running (stale PID file)`,
        "not-ours": `${e.nodeId}: pid ${e.pid} is now another program; left alone`,
      }[outcome];
      out.write(`  ${msg}\n`);
      removePidFile(dataDir, e.nodeId);
    }),
  );
  if (keepData) {
    out.write(`✅ Cleanup completed (data kept in ${dataDir})\n`);
    return;
  }
  refuseDangerousDir(dataDir);
  out.write(`🧹 Cleaning up data directories...\n`);
  if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  out.write("✅ Cleanup completed\n");
}

/** `--data-dir /` or `--data-dir ~` would be a catastrophe; refuse any directory that holds the cwd or home. */
function refuseDangerousDir(dir: string): void {
  const holds = (outer: string, inner: string) => inner === outer || inner.startsWith(outer + path.sep);
  if (dir === path.parse(dir).root || holds(dir, process.cwd()) || holds(dir, os.homedir())) {
    throw new Error(`refusing to delete ${dir}: it is the root, or contains the current or home directory`);
  }
}
