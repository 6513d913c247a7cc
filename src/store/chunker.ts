// FastCDC content-defined chunking (gear hash, normalized chunking), after Xia et al. 2016/2020.
// Cut points depend only on nearby content, so an insertion changes the chunks around it and no others:
// a small edit to a large file ships only the changed chunks. The gear table and masks are part of the
// replicated format (every node must cut identically): changing them changes every chunk hash.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";

export interface ChunkerOptions {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

export const DEFAULT_CHUNKER: ChunkerOptions = Object.freeze({
  minSize: 16 * 1024,
  avgSize: 64 * 1024,
  maxSize: 256 * 1024,
});

/** A piece of content. `hash` is the lowercase hex SHA-256 of `data`. */
export interface Chunk {
  hash: string;
  data: Uint8Array;
  /** `data` views a buffer its producer reuses: valid until the next chunk is asked for. */
  transient?: boolean;
}

export function sha256Hex(data: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** 256 pseudo-random 32-bit values from a fixed seed (splitmix32); fixed forever, see the file comment. */
export const GEAR: Int32Array = (() => {
  const table = new Int32Array(256);
  let s = 0x5049434b; // "PICK"
  for (let i = 0; i < 256; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    table[i] = z ^ (z >>> 16);
  }
  return table;
})();

/** A mask of the `bits` highest bits of a 32-bit word: the gear hash mixes each byte upwards. */
function topBits(bits: number): number {
  return bits >= 32 ? -1 : (((1 << bits) - 1) << (32 - bits)) | 0;
}

interface Resolved {
  min: number;
  avg: number;
  max: number;
  maskS: number; // harder to hit: used before avgSize, so fewer small chunks
  maskL: number; // easier to hit: used after avgSize, so fewer chunks reach maxSize
}

function resolve(opts: ChunkerOptions): Resolved {
  const { minSize: min, avgSize: avg, maxSize: max } = opts;
  for (const [k, v] of Object.entries(opts)) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new RangeError(`chunker ${k} must be a positive integer, got ${v}`);
  }
  if (!(min <= avg && avg <= max)) {
    throw new RangeError(`chunker sizes must satisfy min <= avg <= max, got ${min}/${avg}/${max}`);
  }
  if (avg < 4) throw new RangeError(`chunker avgSize must be at least 4, got ${avg}`);
  const bits = Math.round(Math.log2(avg));
  // Normalization level 1: one bit more before the average, one bit fewer after it.
  return { min, avg, max, maskS: topBits(bits + 1), maskL: topBits(bits - 1) };
}

/**
 * The incremental core shared by cutPoints and StreamingChunker: it keeps the gear hash and scan position
 * of the chunk in progress, so feeding data in pieces costs no rescanning.
 */
class CutScanner {
  private pos = -1; // absolute index of the next byte to hash; -1 = chunk not started
  private h = 0;
  constructor(private readonly o: Resolved) {}

  /** Where the chunk starting at `start` ends, or -1 if the bytes up to `end` do not decide it yet. */
  next(buf: Uint8Array, start: number, end: number, eof: boolean): number {
    const { min, avg, max, maskS, maskL } = this.o;
    const len = end - start;
    if (len <= 0) return -1;
    if (len <= min) return eof ? end : -1;
    let i = this.pos < 0 ? start + min : this.pos;
    let h = this.h;
    const g = GEAR;
    const normalEnd = Math.min(start + avg, end);
    for (; i < normalEnd; i++) {
      h = ((h << 1) + g[buf[i]!]!) | 0;
      if ((h & maskS) === 0) return this.cut(i + 1);
    }
    const maxEnd = Math.min(start + max, end);
    for (; i < maxEnd; i++) {
      h = ((h << 1) + g[buf[i]!]!) | 0;
      if ((h & maskL) === 0) return this.cut(i + 1);
    }
    if (len >= max) return this.cut(start + max);
    if (eof) return this.cut(end);
    this.pos = i;
    this.h = h;
    return -1;
  }

  /** Shift the saved position after the caller moved its buffer contents down by `by` bytes. */
  rebase(by: number): void {
    if (this.pos >= 0) this.pos -= by;
  }

  private cut(at: number): number {
    this.pos = -1;
    this.h = 0;
    return at;
  }
}

/** Exclusive end offsets of the chunks of `data`; [] for empty input. The last one is data.length. */
export function cutPoints(data: Uint8Array, opts: ChunkerOptions = DEFAULT_CHUNKER): number[] {
  const scanner = new CutScanner(resolve(opts));
  const cuts: number[] = [];
  let start = 0;
  while (start < data.length) {
    start = scanner.next(data, start, data.length, true);
    cuts.push(start);
  }
  return cuts;
}

/** Split `data` into hashed chunks (copies, so `data` may be reused). */
export function chunkBytes(data: Uint8Array, opts: ChunkerOptions = DEFAULT_CHUNKER): Chunk[] {
  const out: Chunk[] = [];
  let start = 0;
  for (const end of cutPoints(data, opts)) {
    const piece = data.slice(start, end);
    out.push({ hash: sha256Hex(piece), data: piece });
    start = end;
  }
  return out;
}

/**
 * Chunks a stream fed in pieces of any size, with the same cut points as cutPoints on the concatenation.
 * Holds at most maxSize bytes plus the last pushed piece.
 */
export class StreamingChunker {
  private readonly o: Resolved;
  private readonly scanner: CutScanner;
  private buf: Uint8Array;
  private start = 0; // start of the chunk in progress
  private end = 0; // end of buffered data
  private finished = false;

  constructor(opts: ChunkerOptions = DEFAULT_CHUNKER) {
    this.o = resolve(opts);
    this.scanner = new CutScanner(this.o);
    this.buf = new Uint8Array(0); // sized by the first push: a small file costs no large buffer
  }

  /** Bytes accepted but not yet emitted as a chunk. */
  get pending(): number {
    return this.end - this.start;
  }

  push(data: Uint8Array): Chunk[] {
    if (this.finished) throw new Error("StreamingChunker: push after finish");
    if (data.length === 0) return [];
    this.append(data);
    return this.drain(false);
  }

  finish(): Chunk[] {
    if (this.finished) return [];
    this.finished = true;
    const out = this.drain(true);
    this.buf = new Uint8Array(0);
    return out;
  }

  private append(data: Uint8Array): void {
    const pending = this.end - this.start;
    if (this.end + data.length > this.buf.length) {
      if (pending + data.length > this.buf.length) {
        // Grow: pending is < maxSize, so this is bounded by maxSize + the largest single push.
        const next = new Uint8Array(Math.max(this.buf.length * 2, pending + data.length));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.scanner.rebase(this.start);
      this.start = 0;
      this.end = pending;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  private drain(eof: boolean): Chunk[] {
    const out: Chunk[] = [];
    for (;;) {
      const cut = this.scanner.next(this.buf, this.start, this.end, eof);
      if (cut < 0) break;
      const piece = this.buf.slice(this.start, cut);
      out.push({ hash: sha256Hex(piece), data: piece });
      this.start = cut;
    }
    return out;
  }
}

/** Files up to this size are read with one synchronous read (microseconds; no thread-pool trips). */
const SMALL_FILE = 1 << 20;
/** Read size for larger files; a block is kept alive by the chunks that view it. */
const READ_BLOCK = 4 << 20;

/**
 * Chunks a file from disk in bounded memory, whatever its size. Each block is read into a fresh buffer
 * and its chunks are views of it (no copies); only the tail of a block that ends mid-chunk (under
 * maxSize) is copied into the next one. Memory held: the blocks the caller still keeps chunks of.
 */
export async function* chunkFile(
  path: string,
  opts: ChunkerOptions = DEFAULT_CHUNKER,
): AsyncGenerator<Chunk> {
  const scanner = new CutScanner(resolve(opts));
  const small = readSmallFile(path);
  if (small) {
    yield* cutViews(scanner, small, 0, small.length, true);
    return;
  }
  const fh = await open(path, "r");
  try {
    let carry = new Uint8Array(0);
    for (;;) {
      const block = new Uint8Array(carry.length + READ_BLOCK);
      block.set(carry);
      const { bytesRead } = await fh.read(block, carry.length, READ_BLOCK, null);
      const end = carry.length + bytesRead;
      const eof = bytesRead === 0;
      let start = 0;
      for (const c of cutViews(scanner, block, 0, end, eof)) {
        start += c.data.length;
        yield c;
      }
      if (eof) return;
      scanner.rebase(start);
      carry = block.subarray(start, end);
    }
  } finally {
    await fh.close();
  }
}

/** The chunks `scanner` cuts from buf[start, end), as views of `buf`. */
function* cutViews(
  scanner: CutScanner,
  buf: Uint8Array,
  start: number,
  end: number,
  eof: boolean,
): Generator<Chunk> {
  for (;;) {
    const cut = scanner.next(buf, start, end, eof);
    if (cut < 0) return;
    const piece = buf.subarray(start, cut);
    yield { hash: sha256Hex(piece), data: piece };
    start = cut;
  }
}

/**
 * The whole file when it is small (null otherwise): one open, fstat and read. Reads until EOF, so a
 * file that grows meanwhile is still read whole (the caller's stat check catches the change).
 */
export function readSmallFile(path: string, noFollow = false): Uint8Array | null {
  const fd = openSync(path, constants.O_RDONLY | (noFollow ? (constants.O_NOFOLLOW ?? 0) : 0));
  try {
    const size = fstatSync(fd).size;
    if (size > SMALL_FILE) return null;
    let buf = new Uint8Array(size + 1);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        if (buf.length > SMALL_FILE) return null;
        const next = new Uint8Array(buf.length * 2);
        next.set(buf);
        buf = next;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    return buf.subarray(0, len);
  } finally {
    closeSync(fd);
  }
}

/** A chunk of a file's previous version: where the delta scan may find it again. */
export interface PreviousChunk {
  hash: string;
  size: number;
}

/**
 * Chunks a file that has a known previous version, with exactly the result of chunkFile, cheaper when
 * most of it is unchanged (an edit in place, an append). A chunk's cut depends only on the bytes from
 * its own start, so where the new file has, at an offset where a chunk started before, bytes that hash
 * to that previous chunk, the chunk is the same one: it is hashed, not cut. Other stretches are cut as
 * usual until a cut lands on a previous chunk start again. (Hashing the file's bytes costs less than
 * reading the previous chunk's bytes back for a comparison: SHA-256 runs at ~1.8 GB/s here, and packs
 * are read from the disk, not the page cache.) Reused chunks are yielded as transient views; new ones
 * are copies.
 */
export async function* chunkFileAgainst(
  path: string,
  previous: PreviousChunk[],
  opts: ChunkerOptions = DEFAULT_CHUNKER,
): AsyncGenerator<Chunk> {
  const o = resolve(opts);
  const starts: number[] = [];
  let at = 0;
  for (const c of previous) {
    starts.push(at);
    at += c.size;
  }
  const fh = await open(path, "r");
  const readBlock = 1 << 20;
  let buf = new Uint8Array(2 * readBlock + o.max);
  let bufStart = 0; // file offset of buf[0]
  let bufEnd = 0; // file offset just past the buffered bytes
  let eof = false;
  /** Buffers at least [pos, pos + n) unless the file ends first. */
  const ensure = async (pos: number, n: number) => {
    while (!eof && bufEnd < pos + n) {
      if (bufEnd - bufStart + readBlock > buf.length) {
        // Keep from pos on; what is before pos is done with.
        const keep = buf.subarray(pos - bufStart, bufEnd - bufStart);
        if (keep.length + readBlock > buf.length) {
          const next = new Uint8Array(keep.length + readBlock);
          next.set(keep);
          buf = next;
        } else buf.copyWithin(0, pos - bufStart, bufEnd - bufStart);
        bufStart = pos;
      }
      const { bytesRead } = await fh.read(buf, bufEnd - bufStart, readBlock, bufEnd);
      if (bytesRead === 0) eof = true;
      bufEnd += bytesRead;
    }
  };
  try {
    let pos = 0;
    let k = 0; // first previous chunk starting at or after pos
    for (;;) {
      await ensure(pos, o.max);
      if (pos >= bufEnd) break;
      while (k < starts.length && starts[k]! < pos) k++;
      const prev = k < starts.length && starts[k] === pos ? previous[k]! : null;
      // The previous last chunk ended at the old end of file, not at a cut: it only fits at the new end.
      const fits =
        prev && (k < previous.length - 1 ? pos + prev.size <= bufEnd : pos + prev.size === bufEnd && eof);
      if (prev && fits) {
        const mine = buf.subarray(pos - bufStart, pos - bufStart + prev.size);
        if (sha256Hex(mine) === prev.hash) {
          yield { hash: prev.hash, data: mine, transient: true };
          pos += prev.size;
          continue;
        }
      }
      const cut = new CutScanner(o).next(buf, pos - bufStart, bufEnd - bufStart, eof) + bufStart;
      const piece = buf.slice(pos - bufStart, cut - bufStart);
      yield { hash: sha256Hex(piece), data: piece };
      pos = cut;
    }
  } finally {
    await fh.close();
  }
}
