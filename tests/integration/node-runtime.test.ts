// A node process runs with the JIT settings of src/cli/node-runtime.ts: `pickbox node multi` re-executes
// itself (same PID, so scripts and tests that track the PID keep working) unless the user chose a value.
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { NODE_JIT_ENV } from "../../src/cli/node-runtime.ts";
import { TestCluster } from "./helpers/cluster.ts";

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.destroy();
  c = undefined;
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
