import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { ConnectionLostError, RemoteError } from "../../../src/raft/transport/errors.ts";
import { emptyConfState, emptyMessage, type Message } from "../../../src/raft/types.ts";
import { appMessage, Signal, TransportPool } from "./helpers.ts";

const pool = new TransportPool();
afterEach(() => pool.cleanup());

function snapMessage(): Message {
  return {
    ...emptyMessage("snap", "n1", "n2", 4),
    snapshot: { index: 1000, term: 4, confState: { ...emptyConfState(), voters: ["n1", "n2"] } },
  };
}

/** Deterministic pseudo-random bytes, generated chunk by chunk (never all in memory). */
async function* generate(totalBytes: number, chunkBytes: number, hash: ReturnType<typeof createHash>) {
  let x = 0x9e3779b9;
  for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
    const chunk = new Uint8Array(Math.min(chunkBytes, totalBytes - sent));
    const words = new Uint32Array(chunk.buffer, 0, chunk.byteLength >> 2);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    hash.update(chunk);
    yield chunk;
  }
}

describe("snapshot streaming", () => {
  test(
    "100 MiB arrive intact with bounded memory, and heartbeats are not stuck behind them",
    async () => {
      const a = await pool.start();
      const b = await pool.start({ snapshotBufferBytes: 4 * 1024 * 1024 });
      const total = 100 * 1024 * 1024;
      const sentHash = createHash("sha256");
      const gotHash = createHash("sha256");
      let received = 0;
      const seen: { meta: Message | null } = { meta: null };
      let heartbeatSeenAt = -1;
      const progress = new Signal();

      Bun.gc(true);
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 20);

      b.h.snapshotHook = async (m, data) => {
        seen.meta = m;
        let n = 0;
        for await (const chunk of data) {
          gotHash.update(chunk);
          received += chunk.byteLength;
          // A slow consumer: the transport must pause the socket rather than buffer the difference.
          if (++n % 64 === 0) await new Promise((r) => setTimeout(r, 1));
          progress.notify();
        }
      };
      b.h.onMessage = (m) => {
        if (m.type === "heartbeat") heartbeatSeenAt = received;
        b.h.messages.push(m);
        b.h.signal.notify();
      };

      const done = a.t.sendSnapshot(b.addr, snapMessage(), generate(total, 256 * 1024, sentHash));
      // Midway through the transfer, a heartbeat on the peer connection must still get through.
      await progress.until(() => received >= 10 * 1024 * 1024, 30_000, "10 MiB of snapshot");
      a.t.send(b.addr, emptyMessage("heartbeat", "n1", "n2", 4));
      await b.h.waitForMessages(1, 10_000);
      await done;
      clearInterval(sampler);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

      expect(received).toBe(total);
      expect(gotHash.digest("hex")).toBe(sentHash.digest("hex"));
      expect(seen.meta).toEqual(snapMessage());
      expect(heartbeatSeenAt).toBeGreaterThan(0);
      expect(heartbeatSeenAt).toBeLessThan(total);
      const growthMb = (rssPeak - rssBefore) / 1e6;
      console.log(`snapshot 100 MiB: RSS growth ${growthMb.toFixed(1)} MB`);
      expect(growthMb).toBeLessThan(60);
    },
    { timeout: 60_000 },
  );

  test("a chunk larger than the frame chunk size is split and reassembled", async () => {
    const a = await pool.start({ snapshotChunkBytes: 1000 });
    const b = await pool.start();
    const chunks: Uint8Array[] = [];
    b.h.snapshotHook = async (_m, data) => {
      for await (const c of data) chunks.push(c);
    };
    const payload = Uint8Array.from({ length: 10_500 }, (_, i) => i % 251);
    async function* one() {
      yield payload;
      yield new Uint8Array(0);
      yield new Uint8Array([7]);
    }
    await a.t.sendSnapshot(b.addr, snapMessage(), one());
    expect(Math.max(...chunks.map((c) => c.byteLength))).toBeLessThanOrEqual(1000);
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([payload, new Uint8Array([7])]));
  });

  test("a receiver that rejects makes sendSnapshot reject with its message", async () => {
    const a = await pool.start();
    const b = await pool.start();
    b.h.snapshotHook = async (_m, data) => {
      for await (const _ of data) throw new Error("disk full");
    };
    let generated = 0;
    async function* endless() {
      for (;;) {
        generated++;
        yield new Uint8Array(64 * 1024);
      }
    }
    const err = await a.t.sendSnapshot(b.addr, snapMessage(), endless()).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(RemoteError);
    expect(err?.message).toBe("disk full");
    expect(generated).toBeGreaterThan(0);
    // The peer keeps serving.
    a.t.send(b.addr, appMessage(1));
    await b.h.waitForMessages(1);
  });

  test("a failing data source rejects the sender and fails the receiver's stream", async () => {
    const a = await pool.start();
    const b = await pool.start();
    let receiverError: Error | null = null;
    const settled = new Signal();
    b.h.snapshotHook = async (_m, data) => {
      try {
        for await (const _ of data) {
          // consume
        }
      } catch (e) {
        receiverError = e as Error;
        throw e;
      } finally {
        settled.notify();
      }
    };
    async function* broken() {
      yield new Uint8Array(1000);
      throw new Error("read error on snapshot file");
    }
    const err = await a.t.sendSnapshot(b.addr, snapMessage(), broken()).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toBe("read error on snapshot file");
    await settled.until(() => receiverError !== null);
    expect(receiverError).toBeInstanceOf(ConnectionLostError);
  });

  test("sendSnapshot to an unreachable peer rejects", async () => {
    const a = await pool.start();
    const b = await pool.start();
    await b.t.close();
    async function* data() {
      yield new Uint8Array(10);
    }
    const err = await a.t.sendSnapshot(b.addr, snapMessage(), data()).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(ConnectionLostError);
  });

  test("sendSnapshot times out when the receiver makes no progress", async () => {
    const a = await pool.start({ snapshotIdleTimeoutMs: 300 });
    const b = await pool.start();
    b.h.snapshotHook = () => new Promise(() => {}); // never reads, never settles
    async function* data() {
      for (let i = 0; i < 1024; i++) yield new Uint8Array(1024 * 1024);
    }
    const err = await a.t.sendSnapshot(b.addr, snapMessage(), data()).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.name).toBe("TransportTimeoutError");
  });
});
