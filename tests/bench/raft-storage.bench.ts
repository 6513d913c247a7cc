// Micro-benchmark of the durable Raft storage: `bun tests/bench/raft-storage.bench.ts` prints JSON.
// Every persist() is a real synchronous=FULL commit (one fsync) carrying entries and hard state,
// as the driver issues them. Optional argument: seconds per scenario (default 2).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSnapshotStore } from "../../src/raft/storage/file-snapshot-store.ts";
import { SqliteRaftStorage } from "../../src/raft/storage/sqlite-raft-storage.ts";
import { type Entry, EntryType } from "../../src/raft/types.ts";

const seconds = Number(process.argv[2] ?? 2);
const MB = 1e6;

interface PersistResult {
  scenario: string;
  entriesPerCall: number;
  entryBytes: number;
  calls: number;
  callsPerSec: number;
  entriesPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function benchPersist(root: string, scenario: string, perCall: number, entryBytes: number): PersistResult {
  const storage = new SqliteRaftStorage(join(root, scenario, "state.db"));
  const payload = new Uint8Array(entryBytes).map((_, i) => (i * 31) & 0xff);
  let next = 1;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  while (performance.now() < deadline) {
    const entries: Entry[] = [];
    for (let i = 0; i < perCall; i++)
      entries.push({ index: next + i, term: 1, type: EntryType.Normal, data: payload });
    const t0 = performance.now();
    storage.persist({ term: 1, vote: "n1", commit: next - 1 }, entries);
    latencies.push(performance.now() - t0);
    next += perCall;
    // Keep the log bounded as a running node would after snapshots.
    if (next % (perCall * 512) === 1) storage.compact(next - 1 - perCall * 64);
  }
  const elapsed = (performance.now() - started) / 1000;
  storage.close();
  latencies.sort((a, b) => a - b);
  const calls = latencies.length;
  return {
    scenario,
    entriesPerCall: perCall,
    entryBytes,
    calls,
    callsPerSec: round(calls / elapsed, 0),
    entriesPerSec: round((calls * perCall) / elapsed, 0),
    mbPerSec: round((calls * perCall * entryBytes) / elapsed / MB),
    p50Ms: round(percentile(latencies, 0.5), 3),
    p99Ms: round(percentile(latencies, 0.99), 3),
  };
}

async function benchSnapshot(root: string, totalBytes: number) {
  const store = new FileSnapshotStore(join(root, "snapshots"));
  const chunk = new Uint8Array(1 << 20).fill(7);
  const confState = { voters: ["n1"], learners: [], addresses: {} };
  const t0 = performance.now();
  const sink = await store.create({ term: 1, index: 1, confState });
  for (let written = 0; written < totalBytes; written += chunk.byteLength) await sink.write(chunk);
  await sink.close();
  const t1 = performance.now();
  const opened = (await store.open(1))!;
  let read = 0;
  for await (const c of opened.data) read += c.byteLength;
  const t2 = performance.now();
  return {
    scenario: "snapshot-64MiB",
    bytes: totalBytes,
    writeMbPerSec: round(totalBytes / ((t1 - t0) / 1000) / MB),
    readMbPerSec: round(read / ((t2 - t1) / 1000) / MB),
  };
}

const root = mkdtempSync(join(tmpdir(), "pickbox-bench-raft-storage-"));
try {
  const results = {
    bench: "raft-storage",
    bun: Bun.version,
    secondsPerScenario: seconds,
    persist: [
      benchPersist(root, "1x100B", 1, 100),
      benchPersist(root, "64x1KiB", 64, 1024),
      benchPersist(root, "1x64KiB", 1, 64 * 1024),
      benchPersist(root, "16x64KiB", 16, 64 * 1024),
    ],
    snapshot: await benchSnapshot(root, 64 << 20),
  };
  console.log(JSON.stringify(results, null, 2));
} finally {
  rmSync(root, { recursive: true, force: true });
}
