import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chunkFile, sha256Hex } from "../../src/store/chunker.ts";
import { FileHasher } from "../../src/store/file-hasher.ts";
import { rejectionOf } from "./rejection-of.ts";

const dir = mkdtempSync(path.join(tmpdir(), "pickbox-hasher-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hashers: FileHasher[] = [];
afterEach(() => {
  for (const h of hashers.splice(0)) h.close();
});

function file(name: string, bytes: number): { abs: string; sha: string } {
  const data = randomBytes(bytes);
  const abs = path.join(dir, name);
  writeFileSync(abs, data);
  return { abs, sha: createHash("sha256").update(data).digest("hex") };
}

function hasher(opts?: ConstructorParameters<typeof FileHasher>[0]): FileHasher {
  const h = new FileHasher(opts);
  hashers.push(h);
  return h;
}

describe("FileHasher", () => {
  test("hashes files on its worker thread, each request answered with its own file", async () => {
    const files = [file("a", 3 << 20), file("b", 0), file("c", 1), file("d", (1 << 20) + 17)];
    const h = hasher();
    const got = await Promise.all(files.map((f) => h.hash(f.abs)));
    expect(got.map((g) => g.hash)).toEqual(files.map((f) => f.sha));
    expect(got.map((g) => g.size)).toEqual([3 << 20, 0, 1, (1 << 20) + 17]);
    expect(h.onWorker).toBe(true);
  });

  test("a file that cannot be read fails its request, and the worker goes on serving", async () => {
    const h = hasher();
    expect((await rejectionOf(h.hash(path.join(dir, "missing")))).message).toMatch(/ENOENT|no such file/);
    const f = file("after", 5000);
    expect((await h.hash(f.abs)).hash).toBe(f.sha);
  });

  test("when the worker cannot run, files are hashed on this thread with the same result", async () => {
    const failures: Error[] = [];
    const h = hasher({
      workerModule: path.join(dir, "no-such-worker.ts"),
      onWorkerFailed: (e) => failures.push(e),
    });
    const files = [file("e", 2 << 20), file("f", 10)];
    const got = await Promise.all(files.map((f) => h.hash(f.abs)));
    expect(got).toEqual([
      { hash: files[0]!.sha, size: 2 << 20 },
      { hash: files[1]!.sha, size: 10 },
    ]);
    expect(h.onWorker).toBe(false);
    expect(failures.length).toBe(1);
  });

  test("chunks(): the worker cuts and hashes a file exactly as chunkFile does, and says how much it read", async () => {
    const f = file("g", (9 << 20) + 12_345);
    const h = hasher();
    const want = [];
    for await (const c of chunkFile(f.abs))
      want.push({ hash: c.hash, bytes: sha256Hex(c.data), n: c.data.length });
    const job = h.chunks(f.abs);
    const got = [];
    for await (const c of job.chunks) got.push({ hash: c.hash, bytes: sha256Hex(c.data), n: c.data.length });
    expect(got).toEqual(want);
    expect(got.every((c) => c.hash === c.bytes)).toBe(true); // each chunk's bytes are the ones named
    expect(await job.size).toBe((9 << 20) + 12_345);
    expect(h.onWorker).toBe(true);
  });

  test("chunks(): a scan that stops early cancels the job; the worker goes on serving; a missing file fails", async () => {
    const f = file("h", 20 << 20);
    const h = hasher();
    let taken = 0;
    for await (const _ of h.chunks(f.abs).chunks) if (++taken === 3) break;
    expect(taken).toBe(3);
    const again = h.chunks(f.abs);
    let n = 0;
    for await (const c of again.chunks) n += c.data.length;
    expect(n).toBe(20 << 20);
    expect(await again.size).toBe(20 << 20);
    const missing = h.chunks(path.join(dir, "missing"));
    let failed: unknown = null;
    try {
      for await (const _ of missing.chunks) {
      }
    } catch (e) {
      failed = e;
    }
    expect(String(failed)).toMatch(/ENOENT|no such file/);
    expect((await rejectionOf(missing.size)).message).toMatch(/ENOENT|no such file/);
  });

  test("chunks(): when the worker cannot run, the same chunks come from this thread", async () => {
    const f = file("i", 6 << 20);
    const h = hasher({ workerModule: path.join(dir, "no-such-worker.ts") });
    await h.hash(f.abs); // (the worker fails on its first use)
    const job = h.chunks(f.abs);
    const got: string[] = [];
    for await (const c of job.chunks) got.push(c.hash);
    const want: string[] = [];
    for await (const c of chunkFile(f.abs)) want.push(c.hash);
    expect(got).toEqual(want);
    expect(await job.size).toBe(6 << 20);
  });
});
