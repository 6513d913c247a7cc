import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type Chunk,
  type ChunkerOptions,
  chunkBytes,
  chunkFile,
  cutPoints,
  DEFAULT_CHUNKER,
  GEAR,
  StreamingChunker,
  sha256Hex,
} from "../../src/store/chunker.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL: ChunkerOptions = { minSize: 256, avgSize: 1024, maxSize: 4096 };

/** Deterministic bytes from a seed (xorshift32), so every run sees the same "random" data. */
function seeded(seed: number): (n: number) => Uint8Array {
  let s = seed | 0 || 1;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[i] = s >>> 24;
    }
    return out;
  };
}

function lengths(cuts: number[]): number[] {
  return cuts.map((c, i) => c - (i === 0 ? 0 : cuts[i - 1]!));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe("sha256Hex", () => {
  test("known vectors", () => {
    expect(sha256Hex(new Uint8Array())).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

describe("cutPoints", () => {
  const data = seeded(1)(16 * MiB);

  test("empty input has no chunks; short input is one chunk", () => {
    expect(cutPoints(new Uint8Array())).toEqual([]);
    expect(cutPoints(new Uint8Array(1))).toEqual([1]);
    expect(cutPoints(new Uint8Array(DEFAULT_CHUNKER.minSize))).toEqual([DEFAULT_CHUNKER.minSize]);
  });

  test("deterministic, and pinned: the gear table and cut points are part of the replicated format", () => {
    expect(cutPoints(data)).toEqual(cutPoints(data.slice()));
    // If these change, every node running an older build cuts differently: bump a format version instead.
    expect([GEAR[0], GEAR[1], GEAR[255]]).toEqual([-1332554554, -1411748608, 1660333720]);
    expect(cutPoints(data).slice(0, 5)).toEqual([154968, 206118, 328339, 417674, 490072]);
  });

  test("every chunk is within [minSize, maxSize] except a short last one", () => {
    for (const opts of [DEFAULT_CHUNKER, SMALL]) {
      const cuts = cutPoints(data, opts);
      expect(cuts.at(-1)).toBe(data.length);
      const ls = lengths(cuts);
      for (const l of ls.slice(0, -1)) {
        expect(l).toBeGreaterThanOrEqual(opts.minSize);
        expect(l).toBeLessThanOrEqual(opts.maxSize);
      }
      expect(ls.at(-1)!).toBeGreaterThan(0);
      expect(ls.at(-1)!).toBeLessThanOrEqual(opts.maxSize);
    }
  });

  test("incompressible runs hit maxSize; a zero-filled buffer is cut at maxSize", () => {
    const zeros = new Uint8Array(MiB);
    expect(lengths(cutPoints(zeros))).toEqual([256 * KiB, 256 * KiB, 256 * KiB, 256 * KiB]);
  });

  test("average chunk size on random data is near avgSize", () => {
    for (const opts of [DEFAULT_CHUNKER, SMALL]) {
      const cuts = cutPoints(data, opts);
      const avg = data.length / cuts.length;
      // FastCDC with normalization level 1 and min = avg/4 lands a little above avgSize.
      expect(avg).toBeGreaterThan(opts.avgSize * 0.8);
      expect(avg).toBeLessThan(opts.avgSize * 1.35);
    }
  });

  test("stable after an insertion or deletion: only the chunks around the edit change", () => {
    const base = seeded(7)(8 * MiB);
    const mid = 4 * MiB + 12345;
    const inserted = concat([base.subarray(0, mid), seeded(99)(100), base.subarray(mid)]);
    const deleted = concat([base.subarray(0, mid), base.subarray(mid + 100)]);
    const before = new Set(chunkBytes(base).map((c) => c.hash));
    for (const edited of [inserted, deleted]) {
      const after = chunkBytes(edited);
      const fresh = after.filter((c) => !before.has(c.hash));
      expect(after.length).toBeGreaterThan(80);
      expect(fresh.length).toBeGreaterThanOrEqual(1);
      expect(fresh.length).toBeLessThanOrEqual(3);
    }
  });

  test("an edit at the start does not shift the cuts of the rest of the file", () => {
    const base = seeded(3)(4 * MiB);
    const edited = concat([seeded(4)(10), base]);
    const a = cutPoints(base);
    const b = new Set(cutPoints(edited).map((c) => c - 10));
    const kept = a.filter((c) => b.has(c));
    expect(kept.length).toBeGreaterThanOrEqual(a.length - 2);
  });

  test("rejects nonsensical options", () => {
    expect(() => cutPoints(data, { minSize: 10, avgSize: 5, maxSize: 20 })).toThrow(RangeError);
    expect(() => cutPoints(data, { minSize: 0, avgSize: 5, maxSize: 20 })).toThrow(RangeError);
    expect(() => cutPoints(data, { minSize: 1, avgSize: 8, maxSize: 1.5 })).toThrow(RangeError);
  });

  test("throughput (printed, not asserted)", () => {
    const big = seeded(5)(64 * MiB);
    cutPoints(big); // warm up
    const t0 = performance.now();
    const cuts = cutPoints(big);
    const s = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    chunkBytes(big);
    const s2 = (performance.now() - t1) / 1000;
    console.log(
      `chunker: cutPoints ${(64 / s).toFixed(0)} MiB/s, chunks+sha256 ${(64 / s2).toFixed(0)} MiB/s, ` +
        `${cuts.length} chunks, avg ${(big.length / cuts.length / KiB).toFixed(1)} KiB`,
    );
    expect(cuts.at(-1)).toBe(big.length);
  });
});

describe("StreamingChunker", () => {
  const data = seeded(11)(3 * MiB + 777);

  function streamed(opts: ChunkerOptions, pieceSize: (i: number) => number): Chunk[] {
    const sc = new StreamingChunker(opts);
    const out: Chunk[] = [];
    let off = 0;
    for (let i = 0; off < data.length; i++) {
      const n = Math.min(pieceSize(i), data.length - off);
      out.push(...sc.push(data.subarray(off, off + n)));
      expect(sc.pending).toBeLessThan(opts.maxSize + n);
      off += n;
    }
    out.push(...sc.finish());
    return out;
  }

  const pieceSizes: Array<[string, (i: number) => number]> = [
    ["one piece", () => Number.MAX_SAFE_INTEGER],
    ["1 MiB pieces", () => MiB],
    ["4 KiB pieces", () => 4 * KiB],
    ["irregular pieces", (i) => [1, 7, 65537, 300_000, 13, 262_144, 0, 99_999][i % 8]!],
  ];
  for (const opts of [DEFAULT_CHUNKER, SMALL]) {
    for (const [name, size] of pieceSizes) {
      test(`${name}, min ${opts.minSize}: same chunks as the one-shot chunker`, () => {
        const want = chunkBytes(data, opts);
        const got = streamed(opts, size);
        expect(got.map((c) => c.hash)).toEqual(want.map((c) => c.hash));
        expect(got.map((c) => c.data.length)).toEqual(want.map((c) => c.data.length));
      });
    }
  }

  test("byte-by-byte feeding matches (small sizes)", () => {
    const small = data.subarray(0, 40_000);
    const sc = new StreamingChunker(SMALL);
    const got: number[] = [];
    for (let i = 0; i < small.length; i++)
      got.push(...sc.push(small.subarray(i, i + 1)).map((c) => c.data.length));
    got.push(...sc.finish().map((c) => c.data.length));
    expect(got).toEqual(lengths(cutPoints(small, SMALL)));
  });

  test("chunks are independent copies: mutating the pushed buffer afterwards changes nothing", () => {
    const buf = data.slice(0, 600 * KiB);
    const sc = new StreamingChunker();
    const out = [...sc.push(buf)];
    buf.fill(0);
    out.push(...sc.finish());
    for (const c of out) expect(sha256Hex(c.data)).toBe(c.hash);
    expect(sha256Hex(concat(out.map((c) => c.data)))).toBe(sha256Hex(data.subarray(0, 600 * KiB)));
  });

  test("empty stream yields nothing; push after finish throws", () => {
    const sc = new StreamingChunker();
    expect(sc.push(new Uint8Array())).toEqual([]);
    expect(sc.finish()).toEqual([]);
    expect(() => sc.push(new Uint8Array(1))).toThrow();
  });
});

describe("chunkFile", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "pickbox-chunker-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a 64 MiB file streams through in bounded memory with the same chunks as the streaming chunker", async () => {
    const file = path.join(dir, "big.bin");
    const gen = seeded(21);
    const whole = new Bun.CryptoHasher("sha256");
    const reference = new StreamingChunker();
    const want: string[] = [];
    const fh = await open(file, "w");
    for (let i = 0; i < 64; i++) {
      const block = gen(MiB);
      whole.update(block);
      want.push(...reference.push(block).map((c) => c.hash));
      await fh.write(block);
    }
    await fh.close();
    want.push(...reference.finish().map((c) => c.hash));

    Bun.gc(true);
    const rss0 = process.memoryUsage().rss;
    let peak = 0;
    const got: string[] = [];
    const rejoined = new Bun.CryptoHasher("sha256");
    let total = 0;
    for await (const c of chunkFile(file)) {
      expect(c.data.length).toBeLessThanOrEqual(DEFAULT_CHUNKER.maxSize);
      got.push(c.hash);
      rejoined.update(c.data);
      total += c.data.length;
      if (got.length % 64 === 0) {
        Bun.gc(true);
        peak = Math.max(peak, process.memoryUsage().rss - rss0);
      }
    }
    expect(total).toBe(64 * MiB);
    expect(rejoined.digest("hex")).toBe(whole.digest("hex"));
    expect(got).toEqual(want);
    // Holding the file would add 64 MiB; the chunker holds the 4 MiB read block its chunks view.
    expect(peak).toBeLessThan(32 * MiB);
  });

  test("chunks are views of the read blocks, never overwritten later, also across a block's end", async () => {
    const file = path.join(dir, "views.bin");
    const data = seeded(33)(9 * MiB + 12345);
    await Bun.write(file, data);
    const kept: Chunk[] = [];
    for await (const c of chunkFile(file)) kept.push(c);
    // Checked only after the whole file was read: a reused read buffer would have changed early chunks.
    for (const c of kept) expect(sha256Hex(c.data)).toBe(c.hash);
    expect(Buffer.concat(kept.map((c) => c.data)).equals(Buffer.from(data))).toBe(true);
    expect(kept.map((c) => c.hash)).toEqual(chunkBytes(data).map((c) => c.hash));
    // No copy per chunk: most chunks share a buffer with their neighbours.
    const buffers = new Set(kept.map((c) => c.data.buffer));
    expect(buffers.size).toBeLessThan(kept.length / 10);
    expect(kept.some((c) => c.transient)).toBe(false);
  });

  test("an empty file yields no chunks; a missing file rejects", async () => {
    const empty = path.join(dir, "empty");
    await Bun.write(empty, "");
    const chunks: Chunk[] = [];
    for await (const c of chunkFile(empty)) chunks.push(c);
    expect(chunks).toEqual([]);
    const it = chunkFile(path.join(dir, "missing"));
    await expect(it.next()).rejects.toThrow();
  });
});
