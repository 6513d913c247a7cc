import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, constants, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AlignedAppender } from "../../src/store/aligned-appender.ts";
import { DIRECT_ALIGN, openDirect, readDirect } from "../../src/store/direct-io.ts";
import { seededBytes as bytes } from "./seeded-bytes.ts";

let dir: string;
const fds: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-direct-"));
});
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the test file with O_DIRECT; the temp folder's file system must support it for these tests. */
function openFile(name = "f"): number {
  const { fd, direct } = openDirect(path.join(dir, name), constants.O_RDWR | constants.O_CREAT, 0o600, true);
  fds.push(fd);
  expect(direct).toBe(true);
  return fd;
}

/** The O_DIRECT flag as /proc shows it for a descriptor of this process (octal `flags:` line). */
function hasDirectFlag(fd: number): boolean {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  const flags = Number.parseInt(/^flags:\s+(\d+)/m.exec(info)![1]!, 8);
  return (flags & constants.O_DIRECT) !== 0;
}

describe("AlignedAppender", () => {
  test("random appends with flushes between them: the file holds exactly the bytes, at its true length", async () => {
    const fd = openFile();
    expect(hasDirectFlag(fd)).toBe(true);
    const a = new AlignedAppender(fd, 0, 64 * 1024);
    const expected: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < 200; i++) {
      const piece = bytes(1 + ((i * 7919) % 50_000), i + 1);
      a.append(piece);
      expected.push(piece);
      total += piece.length;
      expect(a.end).toBe(total);
      if (i % 9 === 0) {
        await a.flush();
        expect(statSync(path.join(dir, "f")).size).toBe(total);
      }
    }
    await a.flush();
    const onDisk = readFileSync(path.join(dir, "f"));
    expect(onDisk.length).toBe(total);
    expect(onDisk.equals(Buffer.concat(expected))).toBe(true);
  });

  test("bytes not yet in the file (in a buffer, or on their way to the disk) are overlaid on what the disk returns", async () => {
    const fd = openFile();
    const a = new AlignedAppender(fd, 0, 64 * 1024);
    const first = bytes(200_000, 3); // three full buffers go to the disk in the background, the rest waits
    a.append(first);
    expect(a.end).toBe(200_000);
    // Whatever the disk has so far, overlaid, reads as the appended bytes.
    const { data } = readDirect(fd, 60_000, 140_000);
    a.overlay(data, 60_000);
    expect(Buffer.from(data).equals(Buffer.from(first.subarray(60_000)))).toBe(true);
    await a.flush();
    expect(readFileSync(path.join(dir, "f")).equals(Buffer.from(first))).toBe(true);
  });

  test("a write that fails in the background is reported by every flush after it", async () => {
    openFile();
    // A descriptor the writes cannot use (read-only): the full buffer's write fails in the thread pool.
    const { fd } = openDirect(path.join(dir, "f"), constants.O_RDONLY, 0o600, true);
    fds.push(fd);
    const a = new AlignedAppender(fd, 0, 64 * 1024);
    a.append(bytes(64 * 1024, 4));
    await expect(a.flush()).rejects.toThrow(/EBADF|bad file/i);
    await expect(a.flush()).rejects.toThrow(/EBADF|bad file/i);
    expect(a.failed).toBe(true);
    expect(a.flushNow()).toBe(false);
  });

  test("a new appender continues a file whose length is not aligned (its last block is read back)", async () => {
    const fd = openFile();
    const one = new AlignedAppender(fd, 0);
    const head = bytes(DIRECT_ALIGN * 3 + 123, 5);
    one.append(head);
    await one.flush();
    const two = new AlignedAppender(fd, head.length);
    const tail = bytes(DIRECT_ALIGN + 7, 6);
    two.append(tail);
    await two.flush();
    const onDisk = readFileSync(path.join(dir, "f"));
    expect(onDisk.equals(Buffer.concat([head, tail]))).toBe(true);
  });
});

describe("readDirect", () => {
  test("reads any unaligned range, short where the file ends", async () => {
    const fd = openFile();
    const a = new AlignedAppender(fd, 0);
    const content = bytes(3 * DIRECT_ALIGN + 999, 9);
    a.append(content);
    await a.flush();
    for (const [off, len] of [
      [0, 1],
      [1, DIRECT_ALIGN],
      [DIRECT_ALIGN - 1, 2],
      [5000, 7000],
    ] as const) {
      const { data, got } = readDirect(fd, off, len);
      expect(got).toBe(len);
      expect(Buffer.from(data).equals(Buffer.from(content.subarray(off, off + len)))).toBe(true);
    }
    const end = readDirect(fd, content.length - 10, 100);
    expect(end.got).toBe(10);
    expect(Buffer.from(end.data.subarray(0, 10)).equals(Buffer.from(content.subarray(-10)))).toBe(true);
  });

  test("a buffer too small for the aligned blocks around the range is refused", () => {
    const fd = openFile();
    expect(() => readDirect(fd, 100, DIRECT_ALIGN, new Uint8Array(DIRECT_ALIGN))).toThrow(RangeError);
  });
});

test("openDirect without direct asked for opens an ordinary descriptor", () => {
  const { fd, direct } = openDirect(path.join(dir, "g"), constants.O_RDWR | constants.O_CREAT, 0o600, false);
  fds.push(fd);
  expect(direct).toBe(false);
  expect(hasDirectFlag(fd)).toBe(false);
});
