// Writes a file front to back with direct I/O (see direct-io.ts), through one aligned buffer: pushed
// chunks arrive in file order, with gaps where the origin sent nothing (chunks the peer already holds).
// Bytes gather in the buffer, which covers an aligned window of the file; a gap inside the window is
// zeros there, a write past the window sends the window to the disk and starts a new one. A write that
// lands before the window (out of order) goes to the page cache instead, through `buffered`. Nothing
// passes through the page cache otherwise: on this kind of VM, fresh page-cache pages are most of what
// writing a large file costs.
import { alignDown, alignedBuffer, alignUp, writeFully } from "./direct-io.ts";

/** Size of the buffer, and so of each direct write. */
export const RUN_BUFFER_BYTES = 1024 * 1024;

export class DirectRunWriter {
  private readonly buf: Uint8Array;
  /** File offset of buf[0] (aligned). */
  private base = 0;
  /** Bytes of buf that hold data or gap zeros (from buf[0]). */
  private used = 0;

  constructor(
    /** A descriptor opened with O_DIRECT. */
    private readonly direct: number,
    /** The same file opened without it, for writes behind the window. */
    private readonly buffered: number,
    bufferBytes = RUN_BUFFER_BYTES,
  ) {
    this.buf = alignedBuffer(bufferBytes);
  }

  /** Writes `data` at file offset `off`. */
  async write(off: number, data: Uint8Array): Promise<void> {
    if (off < this.base) {
      // Behind the window: already on the disk or a gap there; the page cache takes it.
      const behind = Math.min(data.length, this.base - off);
      await writeFully(this.buffered, data.subarray(0, behind), off);
      if (behind === data.length) return;
      data = data.subarray(behind);
      off = this.base;
    }
    if (off >= this.base + this.buf.length) {
      // Past the window: it goes to the disk, and a new window starts where this write does.
      await this.flush();
      this.base = alignDown(off);
      this.used = 0;
    }
    let at = off - this.base;
    let done = 0;
    while (done < data.length) {
      if (at > this.used) this.buf.fill(0, this.used, at); // a gap: zeros until the apply fills it
      const n = Math.min(data.length - done, this.buf.length - at);
      this.buf.set(data.subarray(done, done + n), at);
      this.used = Math.max(this.used, at + n);
      done += n;
      at += n;
      if (this.used === this.buf.length) {
        await writeFully(this.direct, this.buf, this.base);
        this.base += this.buf.length;
        this.used = 0;
        at = 0;
      }
    }
  }

  /**
   * Sends the window's bytes to the disk (its last block padded with zeros, which the caller's final
   * truncate or a later write corrects); the window stays, so later writes into it rewrite it whole.
   */
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const padded = alignUp(this.used);
    this.buf.fill(0, this.used, padded);
    await writeFully(this.direct, this.buf.subarray(0, padded), this.base);
  }
}
