// Direct I/O (O_DIRECT) for chunk packs: bulk bytes go from a reused buffer to the disk without passing
// through the page cache. On this kind of VM free memory is reported back to the host and idle memory
// is paged out (DAMON), so a write into the page cache often finds its pages cold: 64 MiB written from
// user memory took 44-173 ms of CPU (measured with writeFile, session 10), a direct write none, at
// ~1.7 GB/s of disk. Packs are written once and read back rarely (a file's apply, a peer's fetch), so
// they gain the most; materialised files stay in the page cache, where their next reader (and an
// in-kernel copy for a small edit) finds them.
//
// Offsets, lengths and buffer addresses of direct I/O must be aligned. Bun allocates buffers of whole
// pages page-aligned; a file system without O_DIRECT (EINVAL at open) gets ordinary I/O instead.
import { constants, openSync, readSync, write, writeSync } from "node:fs";
import { promisify } from "node:util";

/** Alignment of direct I/O offsets, lengths and buffers (covers 512-byte and 4 KiB sector disks). */
export const DIRECT_ALIGN = 4096;

export const alignDown = (n: number): number => n - (n % DIRECT_ALIGN);
export const alignUp = (n: number): number => alignDown(n + DIRECT_ALIGN - 1);

/** A buffer usable for direct I/O: whole aligned blocks (and, being whole pages, page-aligned). */
export function alignedBuffer(bytes: number): Uint8Array {
  return new Uint8Array(alignUp(Math.max(bytes, DIRECT_ALIGN)));
}

/** Opens `file` with O_DIRECT added when `direct` is asked for and the file system supports it. */
export function openDirect(
  file: string,
  flags: number,
  mode: number,
  direct: boolean,
): { fd: number; direct: boolean } {
  if (direct && constants.O_DIRECT) {
    try {
      return { fd: openSync(file, flags | constants.O_DIRECT, mode), direct: true };
    } catch (e) {
      if ((e as { code?: string }).code !== "EINVAL") throw e;
    }
  }
  return { fd: openSync(file, flags, mode), direct: false };
}

/**
 * Reads the bytes at [off, off + len) of a file opened with O_DIRECT: the aligned blocks around them go
 * into `buf` (which must hold alignUp(off + len) - alignDown(off) bytes; a fresh one when omitted).
 * `data` is the view of those `len` bytes inside it; only its first `got` were in the file (it ends).
 */
export function readDirect(
  fd: number,
  off: number,
  len: number,
  buf?: Uint8Array,
): { data: Uint8Array; got: number } {
  const start = alignDown(off);
  const span = alignUp(off + len) - start;
  const into = buf ?? alignedBuffer(span);
  if (into.length < span) throw new RangeError(`readDirect: ${span} bytes do not fit in ${into.length}`);
  const read = readFully(fd, into, span, start);
  const shift = off - start;
  return { data: into.subarray(shift, shift + len), got: Math.max(0, Math.min(len, read - shift)) };
}

/** Reads `len` bytes at `pos` into the start of `buf`; fewer only where the file ends. */
export function readFully(fd: number, buf: Uint8Array, len: number, pos: number): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Writes all of `data` at `pos`, now, on this thread. */
export function writeFullySync(fd: number, data: Uint8Array, pos: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, pos + done);
}

const writeAsync = promisify(write);

/** Writes all of `data` at `pos`, in the thread pool (the event loop goes on meanwhile). */
export async function writeFully(fd: number, data: Uint8Array, pos: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    done += (await writeAsync(fd, data, done, data.length - done, pos + done)).bytesWritten;
  }
}
