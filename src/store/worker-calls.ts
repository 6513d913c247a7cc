// Requests to a worker thread, by id: the plumbing FileHasher and FileSystemSyncer share. The worker is
// started on first use and referenced only while a request is open (an idle worker does not keep the
// process alive). If it fails to load or dies, every open request is told, and `broken` says the caller
// should do the work on its own thread from then on.

/**
 * Where the worker module `file` (a sibling of this one in src/store) is: in the compiled binary an extra
 * entry point of the build (package.json), stored relative to the entry points' common folder, src/.
 */
export function storeWorkerModule(file: string): string {
  return import.meta.url.includes("$bunfs") ? `./store/${file}` : new URL(`./${file}`, import.meta.url).href;
}

/** What a request hears: each message the worker sends for it, or that the worker is gone. */
export interface CallHandlers {
  onMessage(data: WorkerMessage): void;
  onFailed(err: WorkerFailedError): void;
}

/** Every message of a worker carries the id of the request it answers. */
export interface WorkerMessage {
  id: number;
  [key: string]: unknown;
}

/** The worker thread failed (to load, or later): the request will not be answered. */
export class WorkerFailedError extends Error {}

export class WorkerCalls {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly open = new Map<number, CallHandlers>();

  /**
   * `module`: the worker's module (in the compiled binary, an extra entry point of the build, see
   * package.json); `name`: for error messages; `onWorkerFailed`: told once when the worker fails.
   */
  constructor(
    private readonly module: string,
    private readonly name: string,
    private readonly onWorkerFailed?: (err: Error) => void,
  ) {}

  /** The worker failed or was closed: do the work elsewhere. */
  get broken(): boolean {
    return this.failed;
  }

  /** True once the worker runs and until it fails or is closed. */
  get running(): boolean {
    return this.worker !== null && !this.failed;
  }

  /** Opens a request: `message` (given its id) goes to the worker; `handlers` hear back until end(id). */
  call(message: (id: number) => object, handlers: CallHandlers): number {
    const w = this.start();
    const id = this.nextId++;
    this.open.set(id, handlers);
    if (this.open.size === 1) w.ref();
    w.postMessage(message(id));
    return id;
  }

  /** Another message for the worker (credits, cancellations). */
  post(message: object): void {
    this.worker?.postMessage(message);
  }

  /** The request is over (answered, or given up): its late messages are ignored. */
  end(id: number): void {
    this.open.delete(id);
    if (this.open.size === 0) this.worker?.unref();
  }

  /** Stops the worker; open requests are told it failed. */
  close(): void {
    this.worker?.terminate();
    this.worker = null;
    this.failed = true;
    this.failAll(new WorkerFailedError(`${this.name} closed`));
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.module);
    w.onmessage = (e: MessageEvent<WorkerMessage>) => this.open.get(e.data.id)?.onMessage(e.data);
    w.onerror = (e) => {
      this.worker = null;
      this.failed = true;
      w.terminate();
      const err = new WorkerFailedError(`${this.name} failed: ${e.message}`);
      this.onWorkerFailed?.(err);
      this.failAll(err);
    };
    w.unref();
    this.worker = w;
    return w;
  }

  private failAll(err: WorkerFailedError): void {
    const all = [...this.open.values()];
    this.open.clear();
    for (const h of all) h.onFailed(err);
  }
}
