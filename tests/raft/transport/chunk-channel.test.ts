import { describe, expect, test } from "bun:test";
import { ChunkChannel } from "../../../src/raft/transport/chunk-channel.ts";

const chunk = (n: number, v = 1) => new Uint8Array(n).fill(v);

describe("ChunkChannel", () => {
  test("signals the producer to stop above the high-water mark and to resume at half", async () => {
    let lows = 0;
    const ch = new ChunkChannel(100, () => lows++);
    expect(ch.push(chunk(60))).toBe(true);
    expect(ch.push(chunk(60))).toBe(false); // 120 > 100: pause
    const it = ch[Symbol.asyncIterator]();
    await it.next(); // 60 left, still above 50
    expect(lows).toBe(0);
    await it.next(); // 0 left
    expect(lows).toBe(1);
    ch.end();
    expect((await it.next()).done).toBe(true);
  });

  test("delivers chunks in order, then ends", async () => {
    const ch = new ChunkChannel(1 << 20, () => {});
    const got: number[] = [];
    const reading = (async () => {
      for await (const c of ch) got.push(c[0]!);
    })();
    for (let i = 0; i < 5; i++) ch.push(chunk(1, i));
    ch.end();
    await reading;
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  test("a failure reaches the consumer after the buffered chunks", async () => {
    const ch = new ChunkChannel(1 << 20, () => {});
    ch.push(chunk(1, 7));
    ch.fail(new Error("connection lost"));
    const got: number[] = [];
    const err = await (async () => {
      for await (const c of ch) got.push(c[0]!);
    })().then(
      () => null,
      (e: Error) => e,
    );
    expect(got).toEqual([7]);
    expect(err?.message).toBe("connection lost");
  });

  test("a consumer that stops early releases the producer and later data is ignored", async () => {
    let lows = 0;
    const ch = new ChunkChannel(10, () => lows++);
    ch.push(chunk(8));
    expect(ch.push(chunk(8))).toBe(false);
    for await (const _ of ch) break;
    expect(lows).toBe(1);
    expect(ch.push(chunk(100))).toBe(true);
    expect(ch.bufferedBytes).toBe(0);
  });

  test("can be read only once", async () => {
    const ch = new ChunkChannel(10, () => {});
    ch.end();
    for await (const _ of ch) {
      // nothing
    }
    await expect((async () => ch[Symbol.asyncIterator]().next())()).rejects.toThrow("only once");
  });
});
