// Random-access reads of a committed file version straight from the chunk store: the version is pinned
// at OPEN (its chunk list), so a read handle sees one consistent version even if the file changes later.
import type { FileApiBackend } from "./backend.ts";
import { FileApiError } from "./errors.ts";

export interface PinnedVersion {
  path: string;
  size: number;
  hash: string;
  chunks: string[];
}

/** Chunk end offsets per file hash; a handful of recent versions is plenty (reads are mostly sequential). */
export class ChunkOffsetCache {
  private readonly map = new Map<string, Float64Array>();
  constructor(private readonly capacity = 64) {}

  get(hash: string): Float64Array | undefined {
    const v = this.map.get(hash);
    if (v) {
      this.map.delete(hash);
      this.map.set(hash, v);
    }
    return v;
  }

  set(hash: string, ends: Float64Array): void {
    this.map.set(hash, ends);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }
}

export class VersionReader {
  private ends: Float64Array | null = null;
  private lastIndex = -1;
  private lastBytes: Uint8Array | null = null;

  constructor(
    readonly version: PinnedVersion,
    private readonly backend: FileApiBackend,
    private readonly cache: ChunkOffsetCache,
  ) {}

  /** Up to `length` bytes from `offset`; fewer at the end of the file, none past it. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const { size } = this.version;
    const n = Math.max(0, Math.min(length, size - offset));
    if (n === 0) return new Uint8Array(0);
    const ends = this.offsets();
    const out = new Uint8Array(n);
    let i = findChunk(ends, offset);
    let pos = offset;
    while (pos < offset + n) {
      const start = i === 0 ? 0 : ends[i - 1]!;
      const bytes = await this.chunk(i);
      const from = pos - start;
      const take = Math.min(bytes.length - from, offset + n - pos);
      out.set(bytes.subarray(from, from + take), pos - offset);
      pos += take;
      i++;
    }
    return out;
  }

  private offsets(): Float64Array {
    if (this.ends) return this.ends;
    const { hash, chunks, size } = this.version;
    let ends = this.cache.get(hash);
    if (!ends) {
      ends = new Float64Array(chunks.length);
      let total = 0;
      for (let i = 0; i < chunks.length; i++) {
        const s = this.backend.chunkSize(chunks[i]!);
        if (s === null) throw stale(this.version.path);
        total += s;
        ends[i] = total;
      }
      if (total !== size)
        throw new FileApiError("EIO", `chunks of ${this.version.path} add up to ${total} bytes, not ${size}`);
      this.cache.set(hash, ends);
    }
    this.ends = ends;
    return ends;
  }

  private async chunk(i: number): Promise<Uint8Array> {
    if (i === this.lastIndex && this.lastBytes) return this.lastBytes;
    const bytes = await this.backend.readChunk(this.version.chunks[i]!);
    if (!bytes) throw stale(this.version.path);
    this.lastIndex = i;
    this.lastBytes = bytes;
    return bytes;
  }
}

/** Index of the chunk holding byte `offset` (ends are exclusive, ascending). */
function findChunk(ends: Float64Array, offset: number): number {
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid]! > offset) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function stale(p: string): FileApiError {
  return new FileApiError(
    "ESTALE",
    `the version of ${p} this handle opened is no longer stored here; OPEN it again`,
  );
}
