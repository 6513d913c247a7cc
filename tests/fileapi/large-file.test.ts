// A large put and get through the file API in bounded memory: the node (its own process) and the client
// (its own process) each stay under 300 MB peak RSS. 1 GiB with PICKBOX_SLOW=1 (about a minute on a
// 2-core machine); 256 MiB otherwise, which already exceeds every in-memory buffer by far.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { spawn } from "bun";
import { ProcessCluster } from "./process-cluster.ts";

const SLOW = process.env.PICKBOX_SLOW === "1";
const SIZE = SLOW ? 1024 * 1024 * 1024 : 256 * 1024 * 1024;
const LIMIT_MB = 300;

let c: ProcessCluster;
beforeAll(async () => {
  c = await ProcessCluster.start(1);
}, 60_000);
afterAll(async () => {
  await c?.destroy();
});

/** Peak resident set of a live process, from /proc (VmHWM), in MB. */
function peakRssMB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

test(
  `put and get ${SIZE / 1048576} MiB with bounded memory on node and client`,
  async () => {
    const proc = spawn(
      ["bun", path.join(import.meta.dir, "fixtures/big-client.ts"), c.nodes[0]!.client, String(SIZE)],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    const out = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    const r = JSON.parse(out.trim().split("\n").pop()!) as Record<string, number | string>;
    const nodeRss = peakRssMB(c.nodes[0]!.proc.pid);
    console.log(JSON.stringify({ ...r, nodeMaxRssMB: nodeRss }));
    expect(r.bytes).toBe(SIZE);
    expect(r.putHash).toBe(r.wantHash);
    expect(r.gotHash).toBe(r.wantHash);
    expect(r.clientMaxRssMB as number).toBeLessThan(LIMIT_MB);
    expect(nodeRss).toBeLessThan(LIMIT_MB);
  },
  SLOW ? 600_000 : 180_000,
);
