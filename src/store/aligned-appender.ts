// Appends to a file opened with O_DIRECT (see direct-io.ts), which only takes whole aligned blocks:
// bytes gather in an aligned buffer and go to the disk a buffer at a time. flush() writes the partial
// last block padded with zeros and truncates the file back to its true length; that block stays in the
// buffer, so the next appends rewrite it whole. Until flush() the last bytes exist only here: readers
// lay overlay() over what they read from the disk.
import { ftruncateSync, writeSync } from "node:fs";
import { alignDown, alignedBuffer, DIRECT_ALIGN, readDirect } from "./direct-io.ts";

/** Default size of the buffer (and so of each write to the disk). */
export const APPEND_BUFFER_BYTES = 1024 * 1024;

export class AlignedAppender {
  private readonly buf: Uint8Array;
  /** File offset of buf[0] (aligned). */
  private base: number;
  /** Bytes of buf in use. */
  private used: number;

  /** Appends to `fd` from `end`, its current true length (a partial last block is read back first). */
  constructor(
    private readonly fd: number,
    end: number,
    bufferBytes = APPEND_BUFFER_BYTES,
  ) {
    this.buf = alignedBuffer(bufferBytes);
    this.base = alignDown(end);
    this.used = end - this.base;
    if (this.used > 0) {
      if (readDirect(fd, this.base, this.used, this.buf).got !== this.used)
        throw new Error(`file shorter than ${end} bytes`);
    }
  }

  /** The file's true length, appended bytes included. */
  get end(): number {
    return this.base + this.used;
  }

  /** Appends `data` (the file offset it starts at is the old `end`). */
  append(data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const n = Math.min(data.length - done, this.buf.length - this.used);
      this.buf.set(data.subarray(done, done + n), this.used);
      this.used += n;
      done += n;
      if (this.used === this.buf.length) {
        writeAll(this.fd, this.buf, this.buf.length, this.base);
        this.base += this.used;
        this.used = 0;
      }
    }
  }

  /** Puts every appended byte in the file (not yet synced: fdatasync is the caller's). */
  flush(): void {
    if (this.used === 0) return;
    const whole = alignDown(this.used);
    const padded = whole === this.used ? whole : whole + DIRECT_ALIGN;
    this.buf.fill(0, this.used, padded);
    writeAll(this.fd, this.buf, padded, this.base);
    if (padded !== this.used) ftruncateSync(this.fd, this.end);
    if (whole > 0) {
      this.buf.copyWithin(0, whole, this.used);
      this.base += whole;
      this.used -= whole;
    }
  }

  /** Copies into `out` (which holds the file's bytes from `off`) those of them still only buffered. */
  overlay(out: Uint8Array, off: number): void {
    const from = Math.max(off, this.base);
    const to = Math.min(off + out.length, this.end);
    if (from < to) out.set(this.buf.subarray(from - this.base, to - this.base), from - off);
  }
}

function writeAll(fd: number, buf: Uint8Array, len: number, pos: number): void {
  let done = 0;
  while (done < len) done += writeSync(fd, buf, done, len - done, pos + done);
}
