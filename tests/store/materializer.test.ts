import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sha256Hex } from "../../src/store/chunker.ts";
import { Materializer, statAbsSync } from "../../src/store/materializer.ts";
import { seededBytes as bytes } from "./seeded-bytes.ts";

const MiB = 1024 * 1024;

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "pickbox-mat-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function* pieces(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let at = 0, k = 0; at < data.length; k++) {
    const n = sizes[k % sizes.length]!;
    yield data.subarray(at, at + n);
    at += n;
  }
}

const MTIME = Date.UTC(2025, 0, 2, 3, 4, 5);

describe("Materializer", () => {
  test("a large file written from uneven pieces has exactly its bytes, mode and mtime", async () => {
    const m = new Materializer(root);
    const data = bytes(3 * MiB + 12_345, 1);
    const st = await m.writeFile("big.bin", pieces(data, [1, 70_001, 1 << 20, 4095]), 0o640, MTIME);
    expect(st?.size).toBe(data.length);
    expect(sha256Hex(readFileSync(path.join(root, "big.bin")))).toBe(sha256Hex(data));
    expect(statSync(path.join(root, "big.bin")).mode & 0o777).toBe(0o640);
    expect(st?.mtimeMs).toBe(MTIME);
  });

  test("a patched large file is the old one with the changed ranges replaced, grown or cut to size", async () => {
    const m = new Materializer(root);
    const old = bytes(2 * MiB + 5000, 2);
    writeFileSync(path.join(root, "f.bin"), old);
    const expected = statAbsSync(path.join(root, "f.bin"))!;
    const a = bytes(40_000, 3);
    const b = bytes(9_999, 4);
    const size = old.length + 3000; // b ends past the old end
    const want = new Uint8Array(size);
    want.set(old.subarray(0, Math.min(size, old.length)));
    want.set(a, 123_457);
    want.set(b, size - b.length);
    const changed = [
      { offset: 123_457, hash: sha256Hex(a) },
      { offset: size - b.length, hash: sha256Hex(b) },
    ];
    const byHash = new Map([a, b].map((x) => [sha256Hex(x), x]));
    const tmp = await m.stagePatched(
      "f.bin",
      expected,
      size,
      changed,
      async (h) => byHash.get(h)!,
      0o600,
      MTIME,
    );
    expect(tmp).not.toBeNull();
    await m.placeStaged("f.bin", tmp!);
    const got = readFileSync(path.join(root, "f.bin"));
    expect(got.length).toBe(size);
    expect(sha256Hex(got)).toBe(sha256Hex(want));
    expect(statSync(path.join(root, "f.bin")).mtimeMs).toBe(MTIME);
  });

  test("a patch of a file that changed meanwhile stages nothing", async () => {
    const m = new Materializer(root);
    const old = bytes(2 * MiB, 5);
    writeFileSync(path.join(root, "f.bin"), old);
    const expected = statAbsSync(path.join(root, "f.bin"))!;
    writeFileSync(path.join(root, "f.bin"), old.subarray(0, 1000)); // someone cut it short
    const c = bytes(100, 6);
    const tmp = await m.stagePatched(
      "f.bin",
      expected,
      old.length,
      [{ offset: 50, hash: sha256Hex(c) }],
      async () => c,
      0o600,
      MTIME,
    );
    expect(tmp).toBeNull();
    expect(readFileSync(path.join(root, "f.bin")).length).toBe(1000);
  });

  test("a patch in place writes the changed ranges into the same inode, sets size, mode and mtime", () => {
    const m = new Materializer(root);
    const old = bytes(2 * MiB + 5000, 7);
    const f = path.join(root, "f.bin");
    writeFileSync(f, old);
    const expected = statAbsSync(f)!;
    const a = bytes(40_000, 8);
    const size = old.length - 1234;
    const want = old.slice(0, size);
    want.set(a, 700_001);
    // (Nothing may open the file inside the lease: the open would wait for the lease, on this thread.)
    const seenAtMark: { size: number; mtimeMs: number }[] = [];
    const st = m.patchInPlace("f.bin", expected, size, [{ offset: 700_001, data: a }], 0o640, MTIME, () => {
      const now = statSync(f);
      seenAtMark.push({ size: now.size, mtimeMs: now.mtimeMs });
    });
    expect(st?.ino).toBe(expected.ino);
    expect(st?.size).toBe(size);
    expect(st?.mtimeMs).toBe(MTIME);
    expect(statSync(f).mode & 0o777).toBe(0o640);
    expect(sha256Hex(readFileSync(f))).toBe(sha256Hex(want));
    // The caller's record of the patch comes before any byte of it.
    expect(seenAtMark).toEqual([{ size: old.length, mtimeMs: expected.mtimeMs }]);
  });

  test("no patch in place while anyone has the file open, or after it changed: nothing is written", () => {
    const m = new Materializer(root);
    const old = bytes(MiB, 9);
    const f = path.join(root, "f.bin");
    writeFileSync(f, old);
    const expected = statAbsSync(f)!;
    const patch = [{ offset: 10, data: bytes(5000, 10) }];
    let marked = 0;
    const mark = () => {
      marked++;
    };
    const reader = openSync(f, "r");
    try {
      expect(m.patchInPlace("f.bin", expected, old.length, patch, 0o600, MTIME, mark)).toBeNull();
      // The reader still sees the old bytes.
      const head = new Uint8Array(5010);
      readSync(reader, head, 0, head.length, 0);
      expect(sha256Hex(head)).toBe(sha256Hex(old.subarray(0, 5010)));
    } finally {
      closeSync(reader);
    }
    writeFileSync(f, old.subarray(0, 1000)); // someone cut it short meanwhile
    expect(m.patchInPlace("f.bin", expected, old.length, patch, 0o600, MTIME, mark)).toBeNull();
    expect(readFileSync(f).length).toBe(1000);
    expect(marked).toBe(0);
  });
});
