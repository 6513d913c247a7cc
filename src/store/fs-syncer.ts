// Makes a whole file system durable at once (syncfs), on a worker thread: one call that writes back
// every dirty file and directory there and flushes the disk's cache once, where fsyncing N files one by
// one costs N calls and N cache flushes. A checkpoint after a burst of small files (a thousand written in
// a second) is the case it is for; a few files are cheaper to fsync one by one (syncfs also waits for
// anything else dirty on that file system).
//
// If the worker cannot run (no bun:ffi, not glibc), sync() answers false and the caller fsyncs file by
// file: slower, never less durable.

interface Pending {
  resolve: (done: boolean) => void;
  reject: (e: Error) => void;
}

/** Where the worker's module is: in the compiled binary an extra entry point of the build (package.json),
 * stored relative to the entry points' common folder, src/. */
const WORKER_MODULE = import.meta.url.includes("$bunfs")
  ? "./store/fs-sync-worker.ts"
  : new URL("./fs-sync-worker.ts", import.meta.url).href;

export class FileSystemSyncer {
  private worker: Worker | null = null;
  private broken = process.platform !== "linux";
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly opts: { onWorkerFailed?: (err: Error) => void; workerModule?: string } = {}) {}

  /**
   * Resolves true once everything written to the file system that `dir` is on is durable; false when
   * that cannot be done here (the caller fsyncs what it wrote instead). Rejects when the file system
   * reports a write-back error.
   */
  sync(dir: string): Promise<boolean> {
    if (this.broken) return Promise.resolve(false);
    const w = this.start();
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) w.ref();
      w.postMessage({ id, dir });
    });
  }

  close(): void {
    this.worker?.terminate();
    this.worker = null;
    this.broken = true;
    this.settleAll(false);
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.opts.workerModule ?? WORKER_MODULE);
    w.onmessage = (e: MessageEvent<{ id: number; error?: string }>) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (this.pending.size === 0) w.unref(); // an idle worker does not keep the process alive
      if (e.data.error !== undefined) p.reject(new Error(e.data.error));
      else p.resolve(true);
    };
    w.onerror = (e) => {
      this.worker = null;
      this.broken = true;
      w.terminate();
      this.opts.onWorkerFailed?.(new Error(`file system sync worker failed: ${e.message}`));
      this.settleAll(false); // their callers fsync file by file instead
    };
    w.unref();
    this.worker = w;
    return w;
  }

  private settleAll(done: boolean): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.resolve(done);
  }
}
