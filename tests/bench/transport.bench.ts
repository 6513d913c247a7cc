// Transport micro-benchmark: `bun tests/bench/transport.bench.ts` prints one JSON object.
// Two TcpTransports in this process on 127.0.0.1 (sender and receiver share one thread, so these are
// lower bounds for two processes). Scenarios: small Raft messages/s, AppendEntries MB/s, request
// round-trip latency, snapshot streaming MB/s. BENCH_QUICK=1 shrinks every scenario.

import { TcpTransport } from "../../src/raft/transport/tcp-transport.ts";
import type { TransportHandler } from "../../src/raft/transport.ts";
import { type Entry, emptyMessage, type Message } from "../../src/raft/types.ts";

const quick = process.env.BENCH_QUICK === "1";
const MB = 1e6;

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

class Receiver implements TransportHandler {
  count = 0;
  bytes = 0;
  private wake: (() => void) | null = null;
  onMessage(m: Message): void {
    this.count++;
    for (const e of m.entries) this.bytes += e.data.byteLength;
    const w = this.wake;
    this.wake = null;
    w?.();
  }
  async onRequest(payload: unknown): Promise<unknown> {
    return payload;
  }
  async onSnapshot(_m: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const c of data) this.bytes += c.byteLength;
  }
  progress(): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
    });
  }
}

/**
 * Sends `total` messages keeping at most `window` unreceived (as Raft's inflight limit would). The
 * window stays below the transport's queue bound, which drops the oldest frames when the socket is full.
 */
async function pump(
  t: TcpTransport,
  addr: string,
  rx: Receiver,
  total: number,
  make: (i: number) => Message,
  window = 4096,
) {
  rx.count = 0;
  rx.bytes = 0;
  const started = performance.now();
  let sent = 0;
  while (rx.count < total) {
    while (sent < total && sent - rx.count < window) t.send(addr, make(sent++));
    const stalled = setTimeout(() => {
      console.error(`stalled at ${rx.count}/${total}; transport stats ${JSON.stringify(t.stats())}`);
      process.exit(1);
    }, 10_000);
    await rx.progress();
    clearTimeout(stalled);
  }
  return (performance.now() - started) / 1000;
}

async function main() {
  const rx = new Receiver();
  const a = new TcpTransport();
  const b = new TcpTransport();
  await a.listen(new Receiver());
  const addr = await b.listen(rx);
  await a.request(addr, "warm-up", 5000);

  // 1. Small messages: heartbeats (no entries).
  const nSmall = quick ? 50_000 : 500_000;
  const hb = emptyMessage("heartbeat", "n1", "n2", 7);
  const tSmall = await pump(a, addr, rx, nSmall, (i) => ({ ...hb, commit: i }));

  // 2. AppendEntries with one 100-byte entry each.
  const nOne = quick ? 50_000 : 300_000;
  const small: Entry = { term: 7, index: 0, type: 0, data: new Uint8Array(100).fill(1) };
  const tOne = await pump(a, addr, rx, nOne, (i) => ({
    ...emptyMessage("app", "n1", "n2", 7),
    index: i,
    entries: [{ ...small, index: i + 1 }],
  }));

  // 3. Bulk AppendEntries: 64 entries x 16 KiB = 1 MiB per message.
  const nBulk = quick ? 100 : 1000;
  const chunk = new Uint8Array(16 * 1024).fill(2);
  const entries: Entry[] = Array.from({ length: 64 }, (_, i) => ({
    term: 7,
    index: i,
    type: 0,
    data: chunk,
  }));
  const tBulk = await pump(
    a,
    addr,
    rx,
    nBulk,
    (i) => ({ ...emptyMessage("app", "n1", "n2", 7), index: i, entries }),
    32,
  );
  const bulkBytes = rx.bytes;

  // 4. Request round trips, one at a time, then 64 concurrent.
  const nReq = quick ? 2000 : 20_000;
  const lat: number[] = [];
  for (let i = 0; i < nReq; i++) {
    const t0 = performance.now();
    await a.request(addr, i, 5000);
    lat.push((performance.now() - t0) * 1000);
  }
  lat.sort((x, y) => x - y);
  const tConc0 = performance.now();
  const perWorker = nReq / 64;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = 0; i < perWorker; i++) await a.request(addr, i, 5000);
    }),
  );
  const tConc = (performance.now() - tConc0) / 1000;

  // 5. Snapshot streaming, 1 MiB chunks.
  const snapMiB = quick ? 64 : 512;
  rx.bytes = 0;
  async function* data() {
    for (let i = 0; i < snapMiB; i++) yield new Uint8Array(1024 * 1024).fill(i & 0xff);
  }
  const tSnap0 = performance.now();
  await a.sendSnapshot(addr, emptyMessage("snap", "n1", "n2", 7), data());
  const tSnap = (performance.now() - tSnap0) / 1000;

  await a.close();
  await b.close();

  console.log(
    JSON.stringify(
      {
        bench: "transport",
        runtime: `bun ${Bun.version}`,
        topology: "two transports, one process, 127.0.0.1",
        heartbeats: { messages: nSmall, msgsPerSec: Math.round(nSmall / tSmall) },
        appendOneEntry100B: { messages: nOne, msgsPerSec: Math.round(nOne / tOne) },
        appendBulk1MiB: {
          messages: nBulk,
          msgsPerSec: Math.round(nBulk / tBulk),
          mbPerSec: round(bulkBytes / MB / tBulk),
        },
        requests: {
          sequential: nReq,
          p50Us: round(percentile(lat, 0.5)),
          p99Us: round(percentile(lat, 0.99)),
          concurrent64PerSec: Math.round(nReq / tConc),
        },
        snapshot: { mib: snapMiB, mbPerSec: round((snapMiB * 1024 * 1024) / MB / tSnap) },
        rssMB: round(process.memoryUsage().rss / MB),
      },
      null,
      2,
    ),
  );
}

await main();
