import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

export const REPO = path.resolve(import.meta.dir, "../../..");
export const BINARY = path.join(REPO, "bin/pickbox");
export const CM = path.join(REPO, "scripts/cluster_manager.sh");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (killed after timeoutMs) with NO_COLOR set; never throws. */
export async function run(
  argv: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const t0 = performance.now();
  const proc = Bun.spawn(argv, {
    cwd: opts.cwd ?? REPO,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

/** PIDs recorded under <dataDir>/pids (the launchers' layout). */
export function recordedPids(dataDir: string): { id: string; pid: number }[] {
  const dir = path.join(dataDir, "pids");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pid"))
    .map((f) => ({ id: f.slice(0, -4), pid: Number.parseInt(readFileSync(path.join(dir, f), "utf8"), 10) }))
    .filter((e) => Number.isInteger(e.pid) && e.pid > 1);
}

/** Running (a zombie, exited but not yet reaped by whoever inherited it, counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** Teardown safety net: SIGKILL every recorded PID that still runs this node id, then remove the dir. */
export function killRecorded(dataDir: string): void {
  for (const { id, pid } of recordedPids(dataDir)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (cmd.includes("--node-id") && cmd.includes(id)) process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}

export async function waitUntil<T>(
  what: string,
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown = null;
  while (performance.now() < deadline) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last})` : ""}`);
}
