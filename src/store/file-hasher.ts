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
import { storeWorkerModule, WorkerCalls, WorkerFailedError } from "./worker-calls.ts";

export interface WholeFileHash {
  hash: string;
  size: number;
}

/** Blocks of a chunk job the worker may send ahead of the consumer (4 MiB each: memory stays bounded).
 * Room to run ahead while the scan waits for the push (8 against 3: W3 499-526 ms after the write
 * against 517-586, alternating, same peak RSS). */
const CHUNK_WINDOW = 8;

export class FileHasher {
  private readonly worker: WorkerCalls;

  /**
   * `onWorkerFailed`: told once when hashing falls back to this thread. `workerModule`: another module
   * for the worker (tests give one that cannot load).
   */
  constructor(opts: { onWorkerFailed?: (err: Error) => void; workerModule?: string } = {}) {
    this.worker = new WorkerCalls(
      opts.workerModule ?? storeWorkerModule("file-hash-worker.ts"),
      "file hash worker",
      opts.onWorkerFailed,
    );
  }

  /** True once the worker runs and until it fails or is closed. */
  get onWorker(): boolean {
    return this.worker.running;
  }

  /** Hashes the file at `abs` (an absolute path) on the worker thread. */
  hash(abs: string): Promise<WholeFileHash> {
    if (this.worker.broken) return hashHere(abs);
    return new Promise<WholeFileHash>((resolve, reject) => {
      const id = this.worker.call((id) => ({ id, path: abs }), {
        onMessage: (m) => {
          this.worker.end(id);
          if (typeof m.hash === "string") resolve({ hash: m.hash, size: Number(m.size ?? 0) });
          else reject(new Error(String(m.error ?? "file hash worker: malformed reply")));
        },
        onFailed: reject,
      });
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
    if (this.worker.broken) return chunksHere(abs);
    const blocks: { buf: ArrayBuffer; ends: number[]; hashes: string[] }[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    let failure: Error | null = null;
    let id = 0;
    const size = new Promise<number>((resolve, reject) => {
      const finish = (err: Error | null, n = 0) => {
        done = true;
        failure = err;
        wake?.();
        if (err) reject(err);
        else resolve(n);
      };
      id = this.worker.call((id) => ({ id, op: "chunk", path: abs, window: CHUNK_WINDOW }), {
        onMessage: (m) => {
          if (m.op === "block") {
            blocks.push({
              buf: m.buf as ArrayBuffer,
              ends: m.ends as number[],
              hashes: m.hashes as string[],
            });
            wake?.();
            return;
          }
          this.worker.end(id);
          if (m.op === "end") finish(null, Number(m.size ?? 0));
          else finish(new Error(String(m.error ?? "file hash worker: malformed reply")));
        },
        onFailed: (err) => finish(err),
      });
    });
    size.catch(() => {}); // the caller awaits it after the chunks, or gives up before
    const worker = this.worker;
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
          if (!done) worker.post({ id, op: "credit" });
        }
      } finally {
        if (!finished && !done) {
          // The consumer stopped early (the file changed under the scan): the worker stops too.
          worker.post({ id, op: "cancel" });
          worker.end(id);
        }
      }
    }
    return { chunks: iterate(), size };
  }

  /** Stops the worker; requests still open are done on this thread. */
  close(): void {
    this.worker.close();
  }
}

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
