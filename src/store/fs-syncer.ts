// Makes a whole file system durable at once (syncfs), on a worker thread: one call that writes back
// every dirty file and directory there and flushes the disk's cache once, where fsyncing N files one by
// one costs N calls and N cache flushes. A checkpoint after a burst of small files (a thousand written in
// a second) is the case it is for; a few files are cheaper to fsync one by one (syncfs also waits for
// anything else dirty on that file system).
//
// If the worker cannot run (no bun:ffi, not glibc), sync() answers false and the caller fsyncs file by
// file: slower, never less durable.
import { storeWorkerModule, WorkerCalls } from "./worker-calls.ts";

export class FileSystemSyncer {
  private readonly worker: WorkerCalls;
  private readonly available = process.platform === "linux";

  constructor(opts: { onWorkerFailed?: (err: Error) => void; workerModule?: string } = {}) {
    this.worker = new WorkerCalls(
      opts.workerModule ?? storeWorkerModule("fs-sync-worker.ts"),
      "file system sync worker",
      opts.onWorkerFailed,
    );
  }

  /**
   * Resolves true once everything written to the file system that `dir` is on is durable; false when
   * that cannot be done here (the caller fsyncs what it wrote instead). Rejects when the file system
   * reports a write-back error.
   */
  sync(dir: string): Promise<boolean> {
    if (!this.available || this.worker.broken) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      const id = this.worker.call((id) => ({ id, dir }), {
        onMessage: (m) => {
          this.worker.end(id);
          if (m.error !== undefined) reject(new Error(String(m.error)));
          else resolve(true);
        },
        onFailed: () => resolve(false), // the caller fsyncs file by file instead
      });
    });
  }

  close(): void {
    this.worker.close();
  }
}
