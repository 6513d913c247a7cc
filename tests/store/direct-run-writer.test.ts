// DirectRunWriter: a stream of writes in file order, with gaps, through one aligned buffer and direct
// I/O; writes behind the buffer's window go to the page cache. Whatever the order, the file ends up
// with exactly the bytes written, zeros in the gaps.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, constants, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DirectRunWriter } from "../../src/store/direct-run-writer.ts";
import { seededBytes } from "./seeded-bytes.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-run-writer-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function openPair(file: string, size: number) {
  const buffered = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  ftruncateSync(buffered, size);
  const direct = openSync(file, constants.O_RDWR | constants.O_DIRECT);
  return { buffered, direct };
}

describe("DirectRunWriter", () => {
  test("in-order writes with gaps, a jump past the window and writes behind it give exactly the expected bytes", async () => {
    const file = path.join(dir, "f");
    const size = 5 * 1024 * 1024 + 4321;
    const { buffered, direct } = openPair(file, size);
    const want = new Uint8Array(size);
    const w = new DirectRunWriter(direct, buffered, 256 * 1024); // a small window: many direct writes
    const put = async (off: number, n: number, seed: number) => {
      const data = seededBytes(n, seed);
      want.set(data, off);
      await w.write(off, data);
    };
    try {
      let off = 0;
      let seed = 1;
      // A run of chunks of uneven sizes, with small gaps now and then (chunks the peer already had).
      while (off < 3 * 1024 * 1024) {
        const n = 1000 + ((seed * 7919) % 70_000);
        if (seed % 5 === 0) off += 333; // a gap
        await put(off, n, seed++);
        off += n;
      }
      // A jump far ahead, then writes behind the window (out of order), one straddling it.
      await put(size - 10_000, 10_000, 100);
      await put(1_000_003, 50_000, 101);
      await put(size - 300_000, 295_000, 102);
      await w.flush();
      ftruncateSync(buffered, size); // the flush pads its last block
    } finally {
      closeSync(direct);
      closeSync(buffered);
    }
    const got = readFileSync(file);
    expect(got.length).toBe(size);
    expect(Buffer.compare(got, Buffer.from(want))).toBe(0);
  });
});
