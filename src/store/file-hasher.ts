// Hashing of large files on a worker thread, so it runs on the other core:
// - hash(): SHA-256 of a whole file, while this thread cuts and hashes its chunks (the file hash is a
//   second pass over every byte: ~60 ms per 64 MiB, which otherwise lies on the scan's critical path);
// - chunks(): the cutting of a new large file (read, FastCDC, a SHA-256 per chunk), its blocks handed
//   over without a copy: this thread hashes the whole file from them, stores and pushes them.
//
// If the worker cannot run, hashing falls back to this thread: slower, never wrong.
//
// The worker reads the file itself. The scan's before/after stat comparison (size, mtime, inode) is
// what tells that both reads saw the same file, exactly as it already is for the scan's own read.

import { open } from "node:fs/promises";
import { type Chunk, chunkFile } from "./chunker.ts";

export interface WholeFileHash {
  hash: string;
  size: number;
}

interface Pending {
  resolve: (v: WholeFileHash) => void;
  reject: (e: Error) => void;
  /** A chunk job's blocks, as they arrive. */
  onBlock?: (buf: ArrayBuffer, ends: number[], hashes: string[]) => void;
}

/** Blocks of a chunk job the worker may send ahead of the consumer (4 MiB each: memory stays bounded). */
const CHUNK_WINDOW = 3;

/**
 * Where the worker's module is. In the compiled binary it is an extra entry point of the build
 * (package.json), stored relative to the entry points' common folder, src/.
 */
const WORKER_MODULE = import.meta.url.includes("$bunfs")
  ? "./store/file-hash-worker.ts"
  : new URL("./file-hash-worker.ts", import.meta.url).href;

export class FileHasher {
  private worker: Worker | null = null;
  /** The worker failed to start or run: hash here from now on. */
  private broken = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /**
   * `onWorkerFailed`: told once when hashing falls back to this thread. `workerModule`: another module
   * for the worker (tests give one that cannot load).
   */
  constructor(private readonly opts: { onWorkerFailed?: (err: Error) => void; workerModule?: string } = {}) {}

  /** True once the worker runs and until it fails or is closed. */
  get onWorker(): boolean {
    return this.worker !== null && !this.broken;
  }

  /** Hashes the file at `abs` (an absolute path) on the worker thread. */
  hash(abs: string): Promise<WholeFileHash> {
    if (this.broken) return hashHere(abs);
    const w = this.start();
    const id = this.nextId++;
    return new Promise<WholeFileHash>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) w.ref();
      w.postMessage({ id, path: abs });
    }).catch((err) => {
      if (err instanceof WorkerFailedError) return hashHere(abs);
      throw err;
    });
  }

  /**
   * Cuts the file at `abs` into hashed chunks on the worker: its chunks in order (views of the blocks
   * the worker read, handed over without a copy) and, once they are all out, how many bytes it read.
   * Stopping the iteration early cancels the job. Where the worker cannot run, the same on this thread.
   */
  chunks(abs: string): { chunks: AsyncIterable<Chunk>; size: Promise<number> } {
    if (this.broken) return chunksHere(abs);
    const w = this.start();
    const id = this.nextId++;
    const blocks: { buf: ArrayBuffer; ends: number[]; hashes: string[] }[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    let failure: Error | null = null;
    const size = new Promise<number>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (v) => {
          done = true;
          wake?.();
          resolve(v.size);
        },
        reject: (e) => {
          done = true;
          failure = e;
          wake?.();
          reject(e);
        },
        onBlock: (buf, ends, hashes) => {
          blocks.push({ buf, ends, hashes });
          wake?.();
        },
      });
      if (this.pending.size === 1) w.ref();
      w.postMessage({ id, op: "chunk", path: abs, window: CHUNK_WINDOW });
    });
    size.catch(() => {}); // the caller awaits it after the chunks, or gives up before
    const self = this;
    async function* iterate(): AsyncGenerator<Chunk> {
      let finished = false;
      try {
        for (;;) {
          const b = blocks.shift();
          if (!b) {
            if (failure) throw failure;
            if (done) {
              finished = true;
              return;
            }
            await new Promise<void>((r) => {
              wake = r;
            });
            wake = null;
            continue;
          }
          let start = 0;
          for (let i = 0; i < b.ends.length; i++) {
            yield { hash: b.hashes[i]!, data: new Uint8Array(b.buf, start, b.ends[i]! - start) };
            start = b.ends[i]!;
          }
          if (!done) w.postMessage({ id, op: "credit" });
        }
      } finally {
        if (!finished && !done) {
          // The consumer stopped early (the file changed under the scan): the worker stops too.
          w.postMessage({ id, op: "cancel" });
          self.settle(id);
        }
      }
    }
    return { chunks: iterate(), size };
  }

  /** Stops the worker; hashes still pending fail. */
  close(): void {
    this.worker?.terminate();
    this.worker = null;
    this.failAll(new Error("file hasher closed"));
    this.broken = true; // a late caller still gets its hash
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // Listed as an entry point of the build too (package.json), so the compiled binary carries it.
    const w = new Worker(this.opts.workerModule ?? WORKER_MODULE);
    w.onmessage = (
      e: MessageEvent<{
        id: number;
        op?: "block" | "end";
        hash?: string;
        size?: number;
        error?: string;
        buf?: ArrayBuffer;
        ends?: number[];
        hashes?: string[];
      }>,
    ) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      if (e.data.op === "block") {
        p.onBlock?.(e.data.buf!, e.data.ends!, e.data.hashes!);
        return;
      }
      this.settle(e.data.id);
      if (e.data.error !== undefined) p.reject(new Error(e.data.error));
      else if (e.data.op === "end") p.resolve({ hash: "", size: e.data.size ?? 0 });
      else if (e.data.hash === undefined) p.reject(new Error("file hash worker: malformed reply"));
      else p.resolve({ hash: e.data.hash, size: e.data.size ?? 0 });
    };
    w.onerror = (e) => {
      this.worker = null;
      this.broken = true;
      w.terminate();
      const err = new WorkerFailedError(`file hash worker failed: ${e.message}`);
      this.opts.onWorkerFailed?.(err);
      this.failAll(err);
    };
    w.unref();
    this.worker = w;
    return w;
  }

  /** Forgets a request (answered or cancelled); an idle worker does not keep the process alive. */
  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}

class WorkerFailedError extends Error {}

/** chunks() on this thread, for when the worker is unavailable. */
function chunksHere(abs: string): { chunks: AsyncIterable<Chunk>; size: Promise<number> } {
  let read = 0;
  let resolve!: (n: number) => void;
  let reject!: (e: Error) => void;
  const size = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  size.catch(() => {});
  async function* iterate(): AsyncGenerator<Chunk> {
    try {
      for await (const c of chunkFile(abs)) {
        read += c.data.length;
        yield c;
      }
      resolve(read);
    } catch (e) {
      reject(e as Error);
      throw e;
    }
  }
  return { chunks: iterate(), size };
}

/** The same hash on this thread, for when the worker is unavailable (one reused block: bounded memory). */
async function hashHere(abs: string): Promise<WholeFileHash> {
  const hasher = new Bun.CryptoHasher("sha256");
  const block = new Uint8Array(1 << 20);
  let size = 0;
  const fh = await open(abs, "r");
  try {
    for (;;) {
      const { bytesRead } = await fh.read(block, 0, block.length, null);
      if (bytesRead === 0) break;
      hasher.update(block.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { hash: hasher.digest("hex"), size };
}
