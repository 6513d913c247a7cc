// PushStaging: a peer assembles a large file from the chunks pushed ahead of its entry; the apply claims
// the stage only when every chunk written there is the one its command names at that offset.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sha256Hex } from "../../src/store/chunker.ts";
import { PushStaging, STAGE_TTL_MS } from "../../src/store/push-staging.ts";
import { seededBytes } from "./seeded-bytes.ts";

let tmp: string;
const open: PushStaging[] = [];
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "pickbox-staging-"));
});
afterEach(async () => {
  for (const s of open.splice(0)) {
    s.close();
    await s.settled();
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** A PushStaging closed (its stages' descriptors too) after the test. */
function staging(now?: () => number): PushStaging {
  const s = new PushStaging(tmp, now);
  open.push(s);
  return s;
}

const chunk = (n: number, seed: number) => {
  const data = seededBytes(n, seed);
  return { hash: sha256Hex(data), data };
};

/** A file of `sizes` chunks back to back, with each chunk's offset. */
function fileOf(sizes: number[]) {
  const chunks = sizes.map((n, i) => chunk(n, i + 1));
  const offsets: number[] = [];
  let off = 0;
  for (const c of chunks) {
    offsets.push(off);
    off += c.data.length;
  }
  const bytes = new Uint8Array(off);
  for (const [i, c] of chunks.entries()) bytes.set(c.data, offsets[i]!);
  const layout = chunks.map((c, i) => ({ offset: offsets[i]!, hash: c.hash }));
  return { chunks, offsets, bytes, size: off, layout };
}

/** This process's descriptors open on `file` (looked up one by one: listing /proc/self/fd under the test
 * runner does not show every one). */
function descriptorsOf(file: string): number[] {
  const out: number[] = [];
  for (let fd = 0; fd < 1024; fd++) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) out.push(fd);
    } catch {}
  }
  return out;
}

describe("PushStaging", () => {
  test("chunks land at their offsets; a claim hands over the file and names the chunks it lacks", async () => {
    const s = staging();
    const f = fileOf([70_000, 5, 130_000, 64_000, 1]);
    const target = { id: "n2:1", path: "dir/big.bin", size: f.size };
    // Two requests; the second skips chunk 3 (the origin had already sent it elsewhere).
    await s.write(target, f.chunks.slice(0, 2), f.offsets.slice(0, 2));
    await s.write(target, [f.chunks[2]!, f.chunks[4]!], [f.offsets[2]!, f.offsets[4]!]);
    expect(s.holds("dir/big.bin", f.size)).toBe(true);
    expect(s.holds("dir/big.bin", f.size + 1)).toBe(false);
    const claimed = await s.claim("dir/big.bin", f.size, f.layout);
    expect(claimed?.missing).toEqual([f.layout[3]!]);
    const got = readFileSync(claimed!.tmp);
    expect(got.length).toBe(f.size);
    for (const i of [0, 1, 2, 4]) {
      const at = f.offsets[i]!;
      expect(sha256Hex(got.subarray(at, at + f.chunks[i]!.data.length))).toBe(f.chunks[i]!.hash);
    }
    // Claimed: it is the caller's now, no longer the registry's.
    expect(s.size).toBe(0);
    expect(await s.claim("dir/big.bin", f.size, f.layout)).toBeNull();
  });

  test("a stage holding a chunk the command does not have there is never claimed; the fullest fitting one is", async () => {
    const s = staging();
    const f = fileOf([50_000, 50_000, 50_000]);
    const other = chunk(50_000, 99); // what a scan racing a writer read at offset 50000
    await s.write({ id: "racing", path: "f", size: f.size }, [f.chunks[0]!, other], [0, 50_000]);
    await s.write({ id: "small", path: "f", size: f.size }, [f.chunks[2]!], [100_000]);
    await s.write({ id: "full", path: "f", size: f.size }, f.chunks.slice(0, 2), f.offsets.slice(0, 2));
    const claimed = await s.claim("f", f.size, f.layout);
    expect(claimed?.missing).toEqual([f.layout[2]!]);
    expect(sha256Hex(readFileSync(claimed!.tmp).subarray(0, 100_000))).toBe(
      sha256Hex(f.bytes.subarray(0, 100_000)),
    );
    // The two others stay (until they expire): neither fits a different layout either.
    expect(s.size).toBe(2);
    expect(await s.claim("f", f.size, [{ offset: 0, hash: other.hash }])).toBeNull();
  });

  test("bad placements from a peer are ignored, never thrown: out of range, negative, not numbers, bad targets", async () => {
    const s = staging();
    const c = chunk(1000, 1);
    await s.write({ id: "x", path: "f", size: 1500 }, [c, c, c, c], [600, -1, null, 0.5]);
    await s.write({ id: "", path: "f", size: 1500 }, [c], [0]);
    await s.write({ id: "y", path: "f", size: -3 }, [c], [0]);
    await s.write({ id: "z", path: "f", size: 2 ** 50 }, [c], [0]);
    await s.write(null as never, [c], [0]);
    expect(s.size).toBe(1); // only "x", with nothing written
    const claimed = await s.claim("f", 1500, [{ offset: 0, hash: c.hash }]);
    expect(claimed?.missing).toEqual([{ offset: 0, hash: c.hash }]);
    expect([...readFileSync(claimed!.tmp)].every((b) => b === 0)).toBe(true);
  });

  test("stages nobody writes to expire; a stage that fails is dropped without failing the writer", async () => {
    let now = 1_000_000;
    const s = staging(() => now);
    const c = chunk(10_000, 3);
    await s.write({ id: "old", path: "a", size: 20_000 }, [c], [0]);
    now += STAGE_TTL_MS / 2;
    await s.write({ id: "recent", path: "b", size: 20_000 }, [c], [0]);
    now += STAGE_TTL_MS / 2 + 1;
    s.sweep();
    expect(s.holds("a", 20_000)).toBe(false);
    expect(s.holds("b", 20_000)).toBe(true);
    const dir = path.join(tmp, "push");
    await s.settled(); // (a dropped stage's file goes once its queued writes are done)
    expect(readdirSync(dir)).toHaveLength(1);

    // A stage whose file cannot be opened for its first write (a person emptying .pickbox/tmp right
    // then) is dropped; the writer is not failed.
    const writing = s.write({ id: "doomed", path: "c", size: 20_000 }, [c], [0]);
    rmSync(dir, { recursive: true, force: true });
    await writing;
    await s.settled();
    expect(s.holds("c", 20_000)).toBe(false);
    expect(s.holds("b", 20_000)).toBe(true);
  });

  test("a new PushStaging removes the stages a previous process left behind", () => {
    const dir = path.join(tmp, "push");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "s-1-1"), "left by a crash");
    new PushStaging(tmp);
    expect(existsSync(dir)).toBe(false);
  });

  test("a stage is written with direct I/O (no page cache), where the file system allows it", async () => {
    const s = staging();
    const f = fileOf([70_000, 90_000]);
    await s.write({ id: "d", path: "f", size: f.size }, f.chunks, f.offsets);
    await s.settled();
    const stageFile = path.join(tmp, "push", readdirSync(path.join(tmp, "push"))[0]!);
    const fds = descriptorsOf(stageFile);
    const flags = fds.map((fd) =>
      Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!, 8),
    );
    expect(flags.some((fl) => (fl & constants.O_DIRECT) !== 0)).toBe(true);
    const claimed = await s.claim("f", f.size, f.layout);
    expect(claimed?.missing).toEqual([]);
    expect(Buffer.compare(readFileSync(claimed!.tmp), Buffer.from(f.bytes))).toBe(0);
    // Claimed: its descriptors are closed.
    expect(
      readdirSync("/proc/self/fd").some((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === stageFile;
        } catch {
          return false;
        }
      }),
    ).toBe(false);
  });
});
