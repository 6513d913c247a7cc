// `bun run bench fileapi`: the file API of a 3-node cluster (real processes, real fsync) on loopback.
// Measures committed 4 KiB files per second (OPEN w + WRITE + CLOSE, acknowledged after commit) and
// reads of 4 KiB files (OPEN r + READ + CLOSE, linearizable and stale; and a bare READ on an open
// handle), with 1 and 32 clients, as ops/s and p50/p99 latency; for the writes also the CPU per file of
// each node process and of the client (from /proc: the cluster's CPU, not a main thread, is what runs out
// on 2 cores, and it varies less from run to run than files/s). Each phase is measured after a warm-up of
// the same load (WARMUP_MS). Prints one JSON object.
import { readFileSync } from "node:fs";
import { FileApiClient } from "../../src/fileapi/client.ts";
import { ProcessCluster } from "../fileapi/process-cluster.ts";

const quick = process.env.BENCH_QUICK === "1";
const DURATION_MS = quick ? 1500 : 5000;
/** Each phase first runs its load this long unmeasured: new connections, directories and JIT warm-up
 * are not what a steady rate is about. */
const WARMUP_MS = quick ? 300 : 2000;
const SIZE = 4096;

interface Stats {
  clients: number;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU per op of each node process (all its threads) and of this client process, in µs. */
  cpuUsPerOp?: { nodes: { user: number; sys: number }[]; client: { user: number; sys: number } };
}

/** Linux: user and system CPU of a process so far, in µs (clock ticks of 10 ms). */
function cpuOf(pid: number): { user: number; sys: number } | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return { user: Number(fields[11]) * 10_000, sys: Number(fields[12]) * 10_000 };
  } catch {
    return null;
  }
}

async function measure(
  clients: FileApiClient[],
  op: (cl: FileApiClient, clientIdx: number, n: number) => Promise<void>,
  pids: number[] = [],
): Promise<Stats> {
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now() + WARMUP_MS;
  const end = t0 + DURATION_MS;
  // Counters are read when the measured window opens; an op counts when it starts inside the window.
  let cpu0: ReturnType<typeof cpuOf>[] = [];
  let self0 = process.cpuUsage();
  const open = setTimeout(() => {
    cpu0 = pids.map(cpuOf);
    self0 = process.cpuUsage();
  }, WARMUP_MS);
  await Promise.all(
    clients.map(async (cl, i) => {
      for (let n = 0; performance.now() < end; n++) {
        const s = performance.now();
        try {
          await op(cl, i, n);
          if (s >= t0) lat.push(performance.now() - s);
        } catch {
          if (s >= t0) errors++;
        }
      }
    }),
  );
  clearTimeout(open);
  const secs = (performance.now() - t0) / 1000;
  const self = process.cpuUsage(self0);
  const cpu1 = pids.map(cpuOf);
  lat.sort((a, b) => a - b);
  const q = (p: number) => round(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? Number.NaN);
  const stats: Stats = {
    clients: clients.length,
    ops: lat.length,
    opsPerSec: Math.round(lat.length / secs),
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    errors,
  };
  const perOp = (us: number) => Math.round(us / Math.max(1, lat.length));
  if (pids.length > 0 && cpu0.every((c) => c) && cpu1.every((c) => c)) {
    stats.cpuUsPerOp = {
      nodes: cpu1.map((c, i) => ({
        user: perOp(c!.user - cpu0[i]!.user),
        sys: perOp(c!.sys - cpu0[i]!.sys),
      })),
      client: { user: perOp(self.user), sys: perOp(self.system) },
    };
  }
  return stats;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const cluster = await ProcessCluster.start(3);
try {
  const leader = await cluster.leaderIndex();
  const follower = (leader + 1) % 3;
  const pids = cluster.nodes.map((n) => n.proc.pid);
  const payload = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) payload[i] = (i * 131) & 0xff;
  const connect = (n: number, node: number) =>
    Promise.all(Array.from({ length: n }, () => FileApiClient.connect(cluster.nodes[node]!.client)));

  const results: Record<string, unknown> = {
    cluster: "3 processes, loopback",
    fileBytes: SIZE,
    durationMs: DURATION_MS,
    warmupMs: WARMUP_MS,
  };
  let round_ = 0;
  const writeOp = (cl: FileApiClient, i: number, n: number) =>
    cl.putFile(`bench/r${round_}/c${i}/f${n}.bin`, payload).then(() => {});

  for (const n of [1, 32]) {
    const cls = await connect(n, leader);
    round_++;
    results[`write_close_leader_${n}`] = await measure(cls, writeOp, pids);
    for (const c of cls) c.destroy();
  }
  {
    const cls = await connect(32, follower);
    round_++;
    results.write_close_follower_32 = await measure(cls, writeOp, pids);
    for (const c of cls) c.destroy();
  }

  // Read targets: 64 files of 4 KiB.
  const setup = await FileApiClient.connect(cluster.nodes[leader]!.client);
  for (let k = 0; k < 64; k++) await setup.putFile(`bench/read/f${k}.bin`, payload);
  setup.destroy();
  const readWhole = (stale: boolean) => async (cl: FileApiClient, i: number, n: number) => {
    const h = await cl.open(`bench/read/f${(i + n) % 64}.bin`, "r", { stale });
    const got = await cl.read(h.handle, 0, SIZE);
    await cl.close(h.handle);
    if (got.length !== SIZE) throw new Error("short read");
  };
  for (const [name, node] of [
    ["leader", leader],
    ["follower", follower],
  ] as const) {
    for (const n of [1, 32]) {
      const cls = await connect(n, node);
      results[`open_read_close_${name}_${n}`] = await measure(cls, readWhole(false));
      results[`open_read_close_stale_${name}_${n}`] = await measure(cls, readWhole(true));
      // READ alone, on a handle opened once (the verb's own cost).
      const handles = await Promise.all(cls.map((cl, i) => cl.open(`bench/read/f${i % 64}.bin`, "r")));
      results[`read_${name}_${n}`] = await measure(cls, async (cl, i) => {
        const got = await cl.read(handles[i]!.handle, 0, SIZE);
        if (got.length !== SIZE) throw new Error("short read");
      });
      for (const c of cls) c.destroy();
    }
  }
  console.log(JSON.stringify(results, null, 2));
} finally {
  await cluster.destroy();
}
