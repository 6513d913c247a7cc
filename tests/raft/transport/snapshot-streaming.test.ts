import { afterEach, describe, expect, test } from "bun:test";
import path from "node:path";
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

describe("snapshot streaming", () => {
  test(
    "100 MiB arrive intact with bounded memory, and heartbeats are not stuck behind them",
    async () => {
      // Its own process: RSS then measures this transfer, not everything the test runner has loaded.
      const proc = Bun.spawn(["bun", path.join(import.meta.dir, "fixtures/snapshot-rss.ts")], {
        stdout: "pipe",
        stderr: "inherit",
      });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      const r = JSON.parse(out.trim().split("\n").at(-1)!) as {
        received: number;
        hashOk: boolean;
        heartbeatSeenAt: number;
        total: number;
        growthMb: number;
      };
      expect(r.received).toBe(r.total);
      expect(r.hashOk).toBe(true);
      // Midway through the transfer, a heartbeat on the peer connection got through.
      expect(r.heartbeatSeenAt).toBeGreaterThan(0);
      expect(r.heartbeatSeenAt).toBeLessThan(r.total);
      console.log(`snapshot 100 MiB: RSS growth ${r.growthMb.toFixed(1)} MB`);
      expect(r.growthMb).toBeLessThan(60);
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
