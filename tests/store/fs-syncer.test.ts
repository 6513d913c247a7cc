// FileSystemSyncer: syncfs on a worker thread. It really writes back what is dirty (the kernel's count
// of dirty memory falls by what was written), reports failures, and where its worker cannot run it
// answers false so that the caller fsyncs file by file.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileSystemSyncer } from "../../src/store/fs-syncer.ts";
import { rejectionOf } from "./rejection-of.ts";

const dir = mkdtempSync(path.join(tmpdir(), "pickbox-syncfs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const syncers: FileSystemSyncer[] = [];
afterEach(() => {
  for (const s of syncers.splice(0)) s.close();
});

function syncer(opts?: ConstructorParameters<typeof FileSystemSyncer>[0]): FileSystemSyncer {
  const s = new FileSystemSyncer(opts);
  syncers.push(s);
  return s;
}

/** Dirty page-cache memory of the whole machine, in bytes (/proc/meminfo). */
function dirtyBytes(): number {
  return Number(/^Dirty:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
}

describe("FileSystemSyncer", () => {
  test("writes back what is dirty on the file system: 64 MiB just written are no longer dirty", async () => {
    const s = syncer();
    expect(await s.sync(dir)).toBe(true); // (nothing of ours dirty before the measurement)
    writeFileSync(path.join(dir, "big.bin"), randomBytes(64 << 20));
    const before = dirtyBytes();
    expect(before).toBeGreaterThan(48 << 20);
    expect(await s.sync(dir)).toBe(true);
    expect(dirtyBytes()).toBeLessThan(before - (48 << 20));
  });

  test("a directory that is not there fails its request; the worker goes on serving", async () => {
    const s = syncer();
    expect((await rejectionOf(s.sync(path.join(dir, "missing")))).message).toMatch(/ENOENT|no such file/);
    expect(await s.sync(dir)).toBe(true);
  });

  test("when the worker cannot run, or once closed, sync answers false (the caller fsyncs file by file)", async () => {
    const failures: Error[] = [];
    const broken = syncer({
      workerModule: path.join(dir, "no-such-worker.ts"),
      onWorkerFailed: (e) => failures.push(e),
    });
    expect(await broken.sync(dir)).toBe(false);
    expect(await broken.sync(dir)).toBe(false);
    expect(failures.length).toBe(1);
    const s = syncer();
    s.close();
    expect(await s.sync(dir)).toBe(false);
  });
});
