import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Chunk, chunkFile, chunkFileAgainst, type PreviousChunk } from "../../src/store/chunker.ts";
import { seededBytes as bytes } from "./seeded-bytes.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "pickbox-delta-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for await (const c of it) out.push({ hash: c.hash, data: c.data.slice() });
  return out;
}

let seq = 0;
async function chunksOf(data: Uint8Array): Promise<{ file: string; chunks: Chunk[] }> {
  const file = path.join(dir, `f${++seq}`);
  writeFileSync(file, data);
  return { file, chunks: await collect(chunkFile(file)) };
}

/** Delta-chunks `next` against `prev`'s chunks (or the list given, which may lie about the file). */
async function delta(prev: Chunk[], next: Uint8Array, previous?: PreviousChunk[]) {
  const file = path.join(dir, `n${++seq}`);
  writeFileSync(file, next);
  const list = previous ?? prev.map((c) => ({ hash: c.hash, size: c.data.length }));
  const chunks = await collect(chunkFileAgainst(file, list));
  const known = new Set(prev.map((c) => c.hash));
  return { chunks, reused: chunks.filter((c) => known.has(c.hash)).length };
}

const MiB = 1024 * 1024;

describe("chunkFileAgainst (delta scan)", () => {
  const base = bytes(8 * MiB, 7);

  const edits: [string, (b: Uint8Array) => Uint8Array][] = [
    ["unchanged", (b) => b],
    [
      "4 KiB overwritten in the middle",
      (b) => {
        const c = b.slice();
        c.set(bytes(4096, 99), 4 * MiB);
        return c;
      },
    ],
    [
      "1 KiB inserted near the start",
      (b) => Buffer.concat([b.subarray(0, 1000), bytes(1024, 5), b.subarray(1000)]),
    ],
    [
      "100 KiB deleted in the middle",
      (b) => Buffer.concat([b.subarray(0, 3 * MiB), b.subarray(3 * MiB + 102400)]),
    ],
    ["appended to", (b) => Buffer.concat([b, bytes(300_000, 11)])],
    ["truncated mid-chunk", (b) => b.subarray(0, 5 * MiB + 12345)],
    ["truncated to a few bytes", (b) => b.subarray(0, 10)],
    ["replaced entirely", () => bytes(8 * MiB, 1234)],
    [
      "last byte changed",
      (b) => {
        const c = b.slice();
        c[c.length - 1] = c[c.length - 1]! ^ 0xff;
        return c;
      },
    ],
  ];

  for (const [name, edit] of edits) {
    test(`${name}: exactly the chunks a full scan gives`, async () => {
      const prev = (await chunksOf(base)).chunks;
      const next = edit(base);
      const full = (await chunksOf(next)).chunks;
      const d = await delta(prev, next);
      expect(d.chunks.map((c) => c.hash)).toEqual(full.map((c) => c.hash));
      expect(Buffer.concat(d.chunks.map((c) => c.data)).equals(Buffer.from(next))).toBe(true);
    });
  }

  test("an edit in place re-cuts only the chunks around it", async () => {
    const prev = (await chunksOf(base)).chunks;
    const next = base.slice();
    next.set(bytes(4096, 99), 4 * MiB);
    const d = await delta(prev, next);
    expect(prev.length).toBeGreaterThan(50);
    expect(d.chunks.length - d.reused).toBeLessThanOrEqual(3);
  });

  test("a previous chunk list that does not fit the file (wrong hashes, wrong sizes) still gives a full scan's chunks", async () => {
    const prev = (await chunksOf(base)).chunks;
    const lying: PreviousChunk[] = prev.map((c, i) =>
      i % 3 === 0
        ? { hash: prev[(i + 1) % prev.length]!.hash, size: c.data.length }
        : { hash: c.hash, size: c.data.length + (i % 3 === 1 ? 1 : 0) },
    );
    const d = await delta(prev, base, lying);
    expect(d.chunks.map((c) => c.hash)).toEqual(prev.map((c) => c.hash));
    expect(Buffer.concat(d.chunks.map((c) => c.data)).equals(Buffer.from(base))).toBe(true);
  });
});
