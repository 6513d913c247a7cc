// A node process runs with the JIT settings of src/cli/node-runtime.ts: `pickbox node multi` re-executes
// itself (same PID, so scripts and tests that track the PID keep working) unless the user chose a value.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Subprocess, spawn } from "bun";
import { NODE_JIT_ENV } from "../../src/cli/node-runtime.ts";
import { isNodeProcess } from "../../src/cli/run-files.ts";
import { BINARY, freePorts, TestCluster } from "./helpers/cluster.ts";

let c: TestCluster | undefined;
let proc: Subprocess | undefined;
let dir: string | undefined;
afterEach(async () => {
  await c?.destroy();
  c = undefined;
  if (proc) {
    proc.kill("SIGKILL");
    await proc.exited;
    proc = undefined;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  delete process.env.BUN_JSC_useFTLJIT;
});

function environOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const at = kv.indexOf("=");
    if (at > 0) out[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return out;
}

test("the node started by the CLI is the same PID, now running with the node's JIT settings", async () => {
  delete process.env.BUN_JSC_useFTLJIT;
  c = await TestCluster.start({ size: 1 });
  const pid = c.node(0).proc!.pid;
  expect((await c.status(0)).node).toBe("node1"); // the spawned PID is the one serving
  const env = environOf(pid);
  for (const [k, v] of Object.entries(NODE_JIT_ENV)) expect(env[k]).toBe(v);
});

test("a JIT setting the user gave is kept as it is", async () => {
  process.env.BUN_JSC_useFTLJIT = "1";
  c = await TestCluster.start({ size: 1 });
  expect((await c.status(0)).node).toBe("node1");
  expect(environOf(c.node(0).proc!.pid).BUN_JSC_useFTLJIT).toBe("1");
});

test("while the node re-executes itself it still counts as that node (the PID checks of stop and status)", async () => {
  delete process.env.BUN_JSC_useFTLJIT;
  dir = mkdtempSync(path.join(os.tmpdir(), "pickbox-reexec-"));
  const [raft, adminPort, monitor, client, dashboard] = await freePorts(5);
  // biome-ignore format: one flag and its value per line would hide the command
  proc = spawn([BINARY, "--data-dir", dir, "node", "start", "--node-id", "n1", "--port", String(raft), "--admin-port", String(adminPort), "--monitor-port", String(monitor), "--client-port", String(client), "--dashboard-port", String(dashboard), "--bootstrap", "--no-tui"], { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
  const pid = proc.pid;
  // Read its command line as fast as possible through start-up, execve included (it reads empty for an
  // instant there): every answer must be "yes, node n1".
  let misses = 0;
  let reads = 0;
  const until = performance.now() + 600;
  while (performance.now() < until) {
    reads++;
    if (!isNodeProcess(pid, "n1")) misses++;
    if (readFileSync(`/proc/${pid}/environ`, "utf8").includes("BUN_JSC_useFTLJIT=")) break; // re-executed
  }
  expect(misses).toBe(0);
  expect(reads).toBeGreaterThan(0);
  expect(readFileSync(`/proc/${pid}/environ`, "utf8")).toContain("BUN_JSC_useFTLJIT=0");
});
