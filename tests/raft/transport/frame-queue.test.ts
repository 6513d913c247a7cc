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

/** Records what the queue writes; `accept` says whether write() reports room for more. */
class FakeSocket {
  writes: Uint8Array[] = [];
  destroyed = false;
  accept = true;
  private drainListeners: (() => void)[] = [];
  write(b: Uint8Array): boolean {
    this.writes.push(b);
    return this.accept;
  }
  once(ev: string, fn: () => void): void {
    if (ev === "drain") this.drainListeners.push(fn);
  }
  off(): void {}
  drain(): void {
    const fns = this.drainListeners;
    this.drainListeners = [];
    for (const fn of fns) fn();
  }
}

describe("FrameQueue writing", () => {
  const attached = () => {
    const q = new FrameQueue({ maxFrames: 100, maxBytes: 64 << 20 });
    const s = new FakeSocket();
    q.attach(s as never);
    return { q, s };
  };

  test("a frame in pieces goes out in order; large pieces are written as they are, small ones coalesced", () => {
    const { q, s } = attached();
    const big = new Uint8Array(100_000).fill(7);
    const head = Uint8Array.of(1, 2, 3);
    const tail = Uint8Array.of(4, 5);
    q.push({ bytes: Uint8Array.of(9) });
    q.push({ bytes: [head, big, tail] });
    q.push({ bytes: Uint8Array.of(8) });
    q.flush();
    expect(s.writes.length).toBe(3);
    expect([...s.writes[0]!]).toEqual([9, 1, 2, 3]);
    expect(s.writes[1]).toBe(big); // the same buffer: not copied
    expect([...s.writes[2]!]).toEqual([4, 5, 8]);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  test("counts a frame's pieces in its size, and hands nothing more to a full socket until it drains", () => {
    const { q, s } = attached();
    s.accept = false;
    const big = new Uint8Array(70_000);
    q.push({ bytes: [new Uint8Array(10), big, new Uint8Array(4)] });
    q.push({ bytes: new Uint8Array(5) });
    expect(q.bytes).toBe(70_019);
    q.flush();
    const written = () => s.writes.reduce((n, w) => n + w.byteLength, 0);
    expect(written()).toBe(10); // the socket said it is full: the large piece waits
    q.flush();
    expect(written()).toBe(10);
    s.drain();
    expect(s.writes[1]).toBe(big);
    expect(written()).toBe(70_010);
    s.accept = true;
    s.drain();
    expect(written()).toBe(70_019);
    expect(q.length).toBe(0);
  });

  test("a frame half written when the socket goes is not continued on the next socket", () => {
    const { q, s } = attached();
    s.accept = false;
    q.push({ bytes: [Uint8Array.of(1), new Uint8Array(70_000)] });
    q.flush();
    expect(s.writes.length).toBe(1);
    q.detach();
    const next = new FakeSocket();
    q.attach(next as never);
    q.push({ bytes: Uint8Array.of(2) });
    q.flush();
    expect(next.writes.map((w) => [...w])).toEqual([[2]]);
  });
});
