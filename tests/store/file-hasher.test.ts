import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileHasher } from "../../src/store/file-hasher.ts";

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
    await expect(h.hash(path.join(dir, "missing"))).rejects.toThrow(/ENOENT|no such file/);
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
});
