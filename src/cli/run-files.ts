// Where the launchers (`pickbox script demo-3-nodes`, scripts/cluster_manager.sh) keep the PID and log file of
// every node they start, and how those nodes are stopped again: by the PID in the file, after checking that
// the process is still that node (PIDs are reused), never by process name or by whoever holds a port.
//
//   <data-dir>/pids/<node-id>.pid    one decimal PID and a newline
//   <data-dir>/logs/<node-id>.log    the node's stdout and stderr
//
// scripts/cluster_manager.sh uses the same layout, so either tool can stop what the other started.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

export function pidDir(dataDir: string): string {
  return path.join(dataDir, "pids");
}

export function logDir(dataDir: string): string {
  return path.join(dataDir, "logs");
}

export function pidFile(dataDir: string, nodeId: string): string {
  return path.join(pidDir(dataDir), `${nodeId}.pid`);
}

export function logFile(dataDir: string, nodeId: string): string {
  return path.join(logDir(dataDir), `${nodeId}.log`);
}

export function writePidFile(dataDir: string, nodeId: string, pid: number): void {
  mkdirSync(pidDir(dataDir), { recursive: true });
  writeFileSync(pidFile(dataDir, nodeId), `${pid}\n`);
}

export function removePidFile(dataDir: string, nodeId: string): void {
  rmSync(pidFile(dataDir, nodeId), { force: true });
}

export interface PidEntry {
  nodeId: string;
  pid: number;
  file: string;
}

/** Every `<node-id>.pid` under <data-dir>/pids with a valid PID in it (malformed files are skipped). */
export function readPidFiles(dataDir: string): PidEntry[] {
  const dir = pidDir(dataDir);
  if (!existsSync(dir)) return [];
  const out: PidEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(".pid")) continue;
    const file = path.join(dir, name);
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    if (Number.isInteger(pid) && pid > 1) out.push({ nodeId: name.slice(0, -4), pid, file });
  }
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The process's argv, or null when it is gone or cannot be read (non-Linux falls back to `ps`). */
export function commandLine(pid: number): string[] | null {
  try {
    let raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    // Empty for an instant while the process is inside execve (a node re-executes itself once at
    // start-up, see node-runtime.ts); a zombie's stays empty, so it is not waited for.
    for (let i = 0; raw === "" && i < 10 && !isZombie(pid); i++) {
      Bun.sleepSync(20);
      raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    }
    return raw.split("\0").filter((s) => s !== "");
  } catch {
    const ps = Bun.spawnSync(["ps", "-o", "args=", "-p", String(pid)], { stderr: "ignore" });
    const text = ps.stdout.toString().trim();
    return ps.exitCode === 0 && text ? text.split(/\s+/) : null;
  }
}

/**
 * True when `pid` is a running Pickbox node with this node id: its command line has `node start|multi`
 * and `--node-id <id>` / `-n <id>` (or `-node <id>`, the original's flag style). Guards against a PID
 * that the system has since handed to an unrelated process.
 */
export function isNodeProcess(pid: number, nodeId: string): boolean {
  const argv = commandLine(pid);
  if (!argv) return false;
  const nodeCmd = argv.some((a, i) => a === "node" && /^(start|multi)$/.test(argv[i + 1] ?? ""));
  const hasId = argv.some(
    (a, i) =>
      ((a === "--node-id" || a === "-n" || a === "-node") && argv[i + 1] === nodeId) ||
      a === `--node-id=${nodeId}`,
  );
  return nodeCmd && hasId;
}

export type StopOutcome = "stopped" | "killed" | "not-running" | "not-ours";

/**
 * Stops one node by PID: SIGTERM, wait up to graceMs for it to exit, then SIGKILL that PID only.
 * A PID that is gone or now belongs to another program is left alone.
 */
export async function stopNodeProcess(pid: number, nodeId: string, graceMs = 10_000): Promise<StopOutcome> {
  if (!isAlive(pid)) return "not-running";
  if (!isNodeProcess(pid, nodeId)) return "not-ours";
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return "not-running";
  }
  if (await waitExit(pid, graceMs)) return "stopped";
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return "stopped";
  }
  await waitExit(pid, 5_000);
  return "killed";
}

/** Polls until the PID is gone (or a zombie: our own child not yet reaped counts as exited). */
export async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!isAlive(pid) || isZombie(pid)) return true;
    await Bun.sleep(25);
  }
  return !isAlive(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}
