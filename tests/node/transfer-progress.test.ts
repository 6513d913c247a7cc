import { describe, expect, test } from "bun:test";
import type { TransferEvent } from "../../src/node/node-events.ts";
import { TransferProgress, type TransferProgressOptions } from "../../src/node/transfer-progress.ts";

const MiB = 1024 * 1024;

function track(o: Partial<TransferProgressOptions> = {}) {
  const events: TransferEvent[] = [];
  let now = 1000;
  const p = new TransferProgress({
    id: "push-x-1",
    direction: "push",
    path: "big.bin",
    files: 1,
    peers: ["node2", "node3"],
    chunksTotal: 100,
    bytesTotal: 100 * MiB,
    emit: (e) => events.push(e),
    clock: () => now,
    ...o,
  });
  return { p, events, advanceClock: (ms: number) => (now += ms) };
}

describe("TransferProgress", () => {
  test("first event at once, then at most one per interval, and always the final one", () => {
    const { p, events, advanceClock } = track();
    expect(events.map((e) => [e.bytesDone, e.state])).toEqual([[0, "active"]]);
    // 100 chunks, 10 ms apart: 1 s in all, so about ten progress events, not a hundred.
    for (let i = 0; i < 100; i++) {
      advanceClock(10);
      p.advance(MiB, 1);
    }
    p.finish();
    expect(events.length).toBe(12); // first, one per 100 ms (10), final
    const last = events.at(-1)!;
    expect(last).toMatchObject({
      state: "done",
      bytesDone: 100 * MiB,
      bytesTotal: 100 * MiB,
      chunksDone: 100,
    });
    expect(last.elapsedMs).toBe(1000);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.bytesDone).toBeGreaterThanOrEqual(events[i - 1]!.bytesDone);
      if (i < events.length - 1)
        expect(events[i]!.elapsedMs - events[i - 1]!.elapsedMs).toBeGreaterThanOrEqual(100);
    }
  });

  test("interval 0 reports every step", () => {
    const { p, events } = track({ intervalMs: 0, chunksTotal: 3, bytesTotal: 24 * MiB });
    for (let i = 0; i < 3; i++) p.advance(8 * MiB, 1);
    p.finish();
    expect(events.map((e) => e.bytesDone)).toEqual([0, 8 * MiB, 16 * MiB, 24 * MiB, 24 * MiB]);
    expect(events.map((e) => e.state)).toEqual(["active", "active", "active", "active", "done"]);
  });

  test("a small transfer stays silent", () => {
    const { p, events } = track({ bytesTotal: 300 * 1024, chunksTotal: 2 });
    p.advance(300 * 1024, 2);
    p.finish();
    expect(events).toEqual([]);
  });

  test("unknown total (a fetch): visible once enough moved; the final event carries the total", () => {
    const { p, events } = track({ direction: "fetch", bytesTotal: null, peers: [], intervalMs: 0 });
    p.setPeers(["node1"]);
    p.advance(512 * 1024, 4);
    expect(events).toEqual([]);
    p.advance(4 * MiB, 60);
    p.finish();
    expect(events.map((e) => [e.bytesDone, e.bytesTotal, e.state])).toEqual([
      [4.5 * MiB, null, "active"],
      [4.5 * MiB, 4.5 * MiB, "done"],
    ]);
    expect(events[0]!.peers).toEqual(["node1"]);
  });

  test("failure is reported once with its reason; nothing after the end", () => {
    const { p, events } = track();
    p.setPeers(["node2"]);
    p.advance(8 * MiB, 8);
    p.fail(new Error("chunks reached 1 of the 2 voters needed"));
    p.advance(8 * MiB, 8);
    p.finish();
    const last = events.at(-1)!;
    expect(last).toMatchObject({ state: "failed", error: "chunks reached 1 of the 2 voters needed" });
    expect(last.peers).toEqual(["node2"]);
    expect(events.filter((e) => e.state !== "active")).toHaveLength(1);
  });

  test("a listener that throws does not break the transfer", () => {
    const p = new TransferProgress({
      id: "x",
      direction: "push",
      path: null,
      files: 0,
      peers: [],
      chunksTotal: 1,
      bytesTotal: 2 * MiB,
      emit: () => {
        throw new Error("listener bug");
      },
      clock: () => 0,
    });
    expect(() => {
      p.advance(2 * MiB, 1);
      p.finish();
    }).not.toThrow();
  });
});
