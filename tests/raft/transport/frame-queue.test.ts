import { describe, expect, test } from "bun:test";
import { FrameQueue } from "../../../src/raft/transport/frame-queue.ts";

const frame = (n: number) => new Uint8Array(n);

describe("FrameQueue without a writable socket", () => {
  test("keeps at most maxFrames, dropping the oldest and telling their owners", () => {
    const q = new FrameQueue({ maxFrames: 3, maxBytes: 1 << 20 });
    const dropped: number[] = [];
    for (let i = 0; i < 5; i++) q.push({ bytes: frame(1), onDrop: () => dropped.push(i) });
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(2);
    expect(dropped).toEqual([0, 1]);
  });

  test("keeps at most maxBytes, but never drops the newest frame", () => {
    const q = new FrameQueue({ maxFrames: 100, maxBytes: 100 });
    q.push({ bytes: frame(60) });
    q.push({ bytes: frame(60) });
    expect(q.length).toBe(1);
    expect(q.bytes).toBe(60);
    q.push({ bytes: frame(500) });
    expect(q.length).toBe(1);
    expect(q.bytes).toBe(500);
  });

  test("clear() reports every frame not cancelled", () => {
    const q = new FrameQueue({ maxFrames: 10, maxBytes: 1000 });
    const reasons: string[] = [];
    q.push({ bytes: frame(1), onDrop: (r) => reasons.push(`a:${r}`) });
    q.push({ bytes: frame(1), cancelled: true, onDrop: (r) => reasons.push(`b:${r}`) });
    q.clear("closing");
    expect(reasons).toEqual(["a:closing"]);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });
});
