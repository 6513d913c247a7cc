// SHA-256 of a whole file computed on a worker thread, so a large file's scan hashes it on the other
// core while this thread cuts and hashes its chunks (the file hash is a second pass over every byte:
// ~60 ms per 64 MiB, which otherwise lies on the scan's critical path).
//
// If the worker cannot run, hashing falls back to this thread: slower, never wrong.
//
// The worker reads the file itself. The scan's before/after stat comparison (size, mtime, inode) is
// what tells that both reads saw the same file, exactly as it already is for the scan's own read.

import { open } from "node:fs/promises";

export interface WholeFileHash {
  hash: string;
  size: number;
}

interface Pending {
  resolve: (v: WholeFileHash) => void;
  reject: (e: Error) => void;
}

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
    w.onmessage = (e: MessageEvent<{ id: number; hash?: string; size?: number; error?: string }>) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (this.pending.size === 0) w.unref(); // an idle worker does not keep the process alive
      if (e.data.error !== undefined || e.data.hash === undefined) p.reject(new Error(e.data.error));
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

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}

class WorkerFailedError extends Error {}

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
