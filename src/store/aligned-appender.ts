// Appends to a file opened with O_DIRECT (see direct-io.ts), which only takes whole aligned blocks:
// bytes gather in an aligned buffer, and each buffer that fills goes to the disk in the thread pool
// while appends go on into the next one (a direct write is as long as the disk takes, and the event
// loop should not wait it out). flush() waits for those writes, then writes the partial last block
// padded with zeros and truncates the file back to its true length; that block stays in the buffer, so
// the next appends rewrite it whole. Until their write is done the last bytes exist only here: readers
// lay overlay() over what they read from the disk.
import { ftruncateSync } from "node:fs";
import {
  alignDown,
  alignedBuffer,
  DIRECT_ALIGN,
  readDirect,
  writeFully,
  writeFullySync,
} from "./direct-io.ts";

/** Default size of the buffer (and so of each write to the disk). */
export const APPEND_BUFFER_BYTES = 1024 * 1024;
/** Written buffers kept for reuse (warm memory instead of a fresh allocation per buffer): a 4 MiB batch
 * puts four writes on their way at once. 8 against 2: W3 probe 490-517 ms against 511-540 after the
 * write, and a lower peak RSS (fewer dead buffers between collections). */
const SPARE_BUFFERS = 8;

interface Writing {
  off: number;
  buf: Uint8Array;
  done: Promise<void>;
}

export class AlignedAppender {
  private buf: Uint8Array;
  /** File offset of buf[0] (aligned). */
  private base: number;
  /** Bytes of buf in use. */
  private used: number;
  /** Full buffers on their way to the disk, oldest first. */
  private readonly writing: Writing[] = [];
  private readonly spare: Uint8Array[] = [];
  /** A write failed: what was appended may not be in the file; every flush reports it. */
  private failure: unknown = null;

  /**
   * Appends to `fd` from `end`, its current true length (a partial last block is read back first).
   * `synchronous`: full buffers are written at once, on this thread (for a caller that cannot wait:
   * flushNow() then always succeeds).
   */
  constructor(
    private readonly fd: number,
    end: number,
    private readonly bufferBytes = APPEND_BUFFER_BYTES,
    private readonly synchronous = false,
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

  /** Whether a write failed (the appender should be replaced; see flush). */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Appends `data` (the file offset it starts at is the old `end`). */
  append(data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const n = Math.min(data.length - done, this.buf.length - this.used);
      this.buf.set(data.subarray(done, done + n), this.used);
      this.used += n;
      done += n;
      if (this.used === this.buf.length) this.sendFull();
    }
  }

  /**
   * Puts every byte appended so far in the file (not yet synced: fdatasync is the caller's). Rejects if
   * any write of this appender failed.
   */
  async flush(): Promise<void> {
    while (this.writing.length > 0) await this.writing[0]!.done;
    if (this.failure !== null) throw this.failure;
    this.writePartial();
  }

  /** flush() for a caller that cannot wait (closing): false, and nothing written, while writes are out. */
  flushNow(): boolean {
    if (this.writing.length > 0 || this.failure !== null) return false;
    this.writePartial();
    return true;
  }

  /** Copies into `out` (which holds the file's bytes from `off`) those of them not yet in the file. */
  overlay(out: Uint8Array, off: number): void {
    for (const w of this.writing) lay(out, off, w.buf, w.off, w.buf.length);
    lay(out, off, this.buf, this.base, this.used);
  }

  /** The full buffer goes to the disk (in the thread pool); appends continue in another. */
  private sendFull(): void {
    if (this.synchronous) {
      writeFullySync(this.fd, this.buf, this.base);
      this.base += this.used;
      this.used = 0;
      return;
    }
    const w: Writing = { off: this.base, buf: this.buf, done: Promise.resolve() };
    w.done = writeFully(this.fd, w.buf, w.off).then(
      () => this.retire(w, null),
      (err: unknown) => this.retire(w, err),
    );
    this.writing.push(w);
    this.buf = this.spare.pop() ?? alignedBuffer(this.bufferBytes);
    this.base += this.used;
    this.used = 0;
  }

  private retire(w: Writing, err: unknown): void {
    this.writing.splice(this.writing.indexOf(w), 1);
    if (err !== null) this.failure ??= err;
    else if (this.spare.length < SPARE_BUFFERS) this.spare.push(w.buf);
  }

  /** The partial last block, padded to whole blocks; the file is cut back to its true length. */
  private writePartial(): void {
    if (this.used === 0) return;
    const whole = alignDown(this.used);
    const padded = whole === this.used ? whole : whole + DIRECT_ALIGN;
    this.buf.fill(0, this.used, padded);
    writeFullySync(this.fd, this.buf.subarray(0, padded), this.base);
    if (padded !== this.used) ftruncateSync(this.fd, this.end);
    if (whole > 0) {
      this.buf.copyWithin(0, whole, this.used);
      this.base += whole;
      this.used -= whole;
    }
  }
}

/** Copies into `out` (the file's bytes from `outOff`) the part of `src` (the file's bytes from `srcOff`,
 * `len` of them) that overlaps it. */
function lay(out: Uint8Array, outOff: number, src: Uint8Array, srcOff: number, len: number): void {
  const from = Math.max(outOff, srcOff);
  const to = Math.min(outOff + out.length, srcOff + len);
  if (from < to) out.set(src.subarray(from - srcOff, to - srcOff), from - outOff);
}
