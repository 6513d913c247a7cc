// The uncommitted content of a writable handle. Small files stay in memory; past `memoryLimit` bytes the
// content moves to an unlinked temp file under the node's spool directory, so a handle of any size costs
// bounded memory (and a crash leaves nothing behind).
import { mkdirSync } from "node:fs";
import { type FileHandle, open, unlink } from "node:fs/promises";
import path from "node:path";

export const DEFAULT_SPOOL_MEMORY = 1024 * 1024;
const BLOCK = 1024 * 1024;

let spoolSeq = 0;

export class WriteSpool {
  private mem: Uint8Array | null = new Uint8Array(0);
  private fh: FileHandle | null = null;
  private len = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly memoryLimit = DEFAULT_SPOOL_MEMORY,
  ) {}

  get size(): number {
    return this.len;
  }

  /** Whether the content lives in a temp file (tests, stats). */
  get spilled(): boolean {
    return this.fh !== null;
  }

  /** Writes `data` at `offset`; a gap past the end reads as zeros. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.check();
    const end = offset + data.length;
    if (this.mem && end <= this.memoryLimit) {
      if (end > this.mem.length) {
        const grown = new Uint8Array(Math.min(this.memoryLimit, Math.max(end, this.mem.length * 2, 4096)));
        grown.set(this.mem.subarray(0, this.len));
        this.mem = grown;
      }
      this.mem.set(data, offset);
    } else {
      const fh = await this.spill();
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off, offset + off);
        off += bytesWritten;
      }
    }
    if (end > this.len) this.len = end;
  }

  /** Up to `length` bytes from `offset` (fewer at the end, none past it). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.check();
    const n = Math.max(0, Math.min(length, this.len - offset));
    if (n === 0) return new Uint8Array(0);
    if (this.mem) return this.mem.slice(offset, offset + n);
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh!.read(out, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** The whole content in order, in pieces of at most 1 MiB (each valid until the next is requested). */
  async *stream(): AsyncGenerator<Uint8Array> {
    this.check();
    if (this.mem) {
      for (let off = 0; off < this.len; off += BLOCK)
        yield this.mem.subarray(off, Math.min(this.len, off + BLOCK));
      return;
    }
    const block = new Uint8Array(BLOCK);
    for (let off = 0; off < this.len; ) {
      const want = Math.min(BLOCK, this.len - off);
      const { bytesRead } = await this.fh!.read(block, 0, want, off);
      if (bytesRead === 0) throw new Error("spool file shorter than its recorded size");
      yield block.subarray(0, bytesRead);
      off += bytesRead;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.mem = null;
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => {});
  }

  private async spill(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `spool-${process.pid}-${++spoolSeq}`);
    const fh = await open(file, "wx+", 0o600);
    await unlink(file); // the open descriptor keeps the bytes; nothing is left behind after a crash
    const mem = this.mem!;
    let off = 0;
    while (off < this.len) off += (await fh.write(mem, off, this.len - off, off)).bytesWritten;
    this.mem = null;
    this.fh = fh;
    return fh;
  }

  private check(): void {
    if (this.closed) throw new Error("spool is closed");
  }
}
