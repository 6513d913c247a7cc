import { afterEach, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FolderWatcher } from "../../src/watcher/folder-watcher.ts";
import { makeTempRoot, percentile, removeTempRoot, startWatcher, WatchLog } from "./watch-harness.ts";

// Above the harness deadline (10 s), so a missing event fails with its own message, not a test timeout.
setDefaultTimeout(30_000);

let root: string;
let watcher: FolderWatcher | undefined;
beforeEach(() => {
  root = makeTempRoot("pickbox-watch-latency-");
});
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  removeTempRoot(root);
});

// A measurement, printed for budgeting; only completeness is asserted (timings vary with machine load).
test("event latency of 200 single-file writes (write -> onEvents), default settle", async () => {
  const log = new WatchLog();
  watcher = await startWatcher(root, log);
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    const name = `lat-${i}.txt`;
    const from = log.events.length;
    const t0 = performance.now();
    writeFileSync(join(root, name), `payload ${i}`);
    const e = await log.event(name, "upsert", from);
    latencies.push(e.at - t0);
  }
  latencies.sort((a, b) => a - b);
  const fmt = (n: number) => n.toFixed(1);
  console.log(
    `watcher latency, 200 writes, settleMs=15: p50 ${fmt(percentile(latencies, 50))} ms, p99 ${fmt(percentile(latencies, 99))} ms, max ${fmt(latencies.at(-1)!)} ms`,
  );
  expect(latencies).toHaveLength(200);
});
