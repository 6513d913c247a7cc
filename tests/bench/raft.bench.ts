// `bun run bench raft`: 3 Raft members as real processes on loopback, real fsync (sqlite FULL).
// Measures committed proposals/s with 1 and 64 concurrent proposers, commit latency, and the time
// to a new leader after kill -9 of the old one (median of 10). Prints one JSON object.

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Subprocess, spawn } from "bun";
import { freePorts } from "../integration/helpers/cluster.ts";

const FIXTURE = path.join(import.meta.dir, "fixtures/raft-bench-node.ts");
const quick = process.env.BENCH_QUICK === "1";

interface Member {
  id: string;
  port: number;
  dir: string;
  proc: Subprocess<"pipe", "pipe", "inherit"> | null;
  lines: AsyncIterator<string> | null;
}

function startMember(m: Member, bootstrap: boolean): void {
  const proc = spawn(["bun", FIXTURE, m.id, String(m.port), m.dir, bootstrap ? "bootstrap" : ""], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  m.proc = proc;
  m.lines = readLines(proc.stdout);
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
  }
}

async function ask(m: Member, msg: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (!m.proc || !m.lines) throw new Error(`${m.id} is down`);
  m.proc.stdin.write(`${JSON.stringify(msg)}\n`);
  m.proc.stdin.flush();
  const next = await m.lines.next();
  if (next.done) throw new Error(`${m.id} exited`);
  return JSON.parse(next.value) as Record<string, unknown>;
}

async function until<T>(what: string, f: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    await Bun.sleep(5);
  }
  throw new Error(`timeout: ${what}`);
}

async function leaderOf(members: Member[]): Promise<Member | null> {
  for (const m of members) {
    if (!m.proc) continue;
    const st = await ask(m, { cmd: "status" }).catch(() => null);
    if (st?.role === "leader") return m;
  }
  return null;
}

async function kill9(m: Member): Promise<void> {
  m.proc?.kill("SIGKILL");
  await m.proc?.exited;
  m.proc = null;
  m.lines = null;
}

const dir = mkdtempSync(path.join(os.tmpdir(), "pickbox-bench-raft-"));
const ports = await freePorts(3);
const members: Member[] = ports.map((port, i) => ({
  id: `n${i + 1}`,
  port,
  dir: path.join(dir, `n${i + 1}`),
  proc: null,
  lines: null,
}));
try {
  startMember(members[0]!, true);
  await until("bootstrap leader", async () =>
    (await ask(members[0]!, { cmd: "status" })).role === "leader" ? true : null,
  );
  for (const m of members.slice(1)) {
    startMember(m, false);
    const r = await ask(members[0]!, { cmd: "addVoter", id: m.id, address: `127.0.0.1:${m.port}` });
    if (r.error) throw new Error(String(r.error));
  }
  await until("all members see the leader", async () => {
    const sts = await Promise.all(members.map((m) => ask(m, { cmd: "status" })));
    return sts.every((s) => s.leader === "n1") ? true : null;
  });

  console.error("cluster formed; measuring 1 proposer");
  const one = await ask(members[0]!, { cmd: "bench", proposers: 1, total: quick ? 300 : 2000, size: 128 });
  console.error(`1 proposer: ${JSON.stringify(one)}; measuring 64 proposers`);
  const many = await ask(members[0]!, {
    cmd: "bench",
    proposers: 64,
    total: quick ? 5000 : 40_000,
    size: 128,
  });

  console.error(`64 proposers: ${JSON.stringify(many)}; measuring failover`);
  const failovers: number[] = [];
  const rounds = quick ? 3 : 10;
  for (let r = 0; r < rounds; r++) {
    const leader = await until("a leader", () => leaderOf(members));
    const oldTerm = Number((await ask(leader, { cmd: "status" })).term);
    const t0 = performance.now();
    await kill9(leader);
    const survivors = members.filter((m) => m.proc);
    await until("a new leader", async () => {
      for (const m of survivors) {
        const st = await ask(m, { cmd: "status" });
        if (st.role === "leader" && Number(st.term) > oldTerm) return true;
      }
      return null;
    });
    failovers.push(performance.now() - t0);
    console.error(`failover ${r + 1}: ${Math.round(failovers.at(-1)!)} ms`);
    startMember(leader, false);
    await until("restarted member follows", async () => {
      const st = await ask(leader, { cmd: "status" });
      return st.leader && st.role === "follower" ? true : null;
    });
  }
  failovers.sort((a, b) => a - b);
  const median = failovers[Math.floor(failovers.length / 2)]!;

  console.log(
    JSON.stringify(
      {
        bench: "raft",
        nodes: 3,
        fsync: "sqlite WAL synchronous=FULL",
        oneProposer: {
          commitsPerSec: one.perSecond,
          p50Ms: one.p50Ms,
          p99Ms: one.p99Ms,
          committed: one.committed,
        },
        proposers64: {
          commitsPerSec: many.perSecond,
          p50Ms: many.p50Ms,
          p99Ms: many.p99Ms,
          committed: many.committed,
        },
        failover: { rounds, medianMs: median, allMs: failovers.map((x) => Math.round(x)) },
        targets: { commitsPerSec64: 5000, p50MsOne: 5, failoverMedianMs: 1000 },
        pass: Number(many.perSecond) >= 5000 && Number(one.p50Ms) <= 5 && median <= 1000,
      },
      null,
      2,
    ),
  );
} finally {
  for (const m of members) await kill9(m);
  rmSync(dir, { recursive: true, force: true });
}
