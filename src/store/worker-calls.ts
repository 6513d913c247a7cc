// Requests to a worker thread, by id: the plumbing FileHasher and FileSystemSyncer share. The worker is
// started on first use and referenced only while a request is open (an idle worker does not keep the
// process alive). If it fails to load, does not start, or dies, every open request is told, and `broken`
// says the caller should do the work on its own thread from then on.
//
// Nothing is posted to the worker before it says it listens (WORKER_READY): a Web Worker drops the
// messages that reach it before its `onmessage` exists (browser semantics, which Bun keeps since 1.4),
// and a request lost that way would never be answered.

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

/** What a worker module posts once its `onmessage` is installed (id 0 answers no request). */
export const WORKER_READY = { id: 0, ready: true } as const;

/** How long a worker may take to say it listens before it counts as failed (work then runs on the
 * caller's thread): generous, since a loaded machine starts threads slowly, but finite. */
export const WORKER_START_TIMEOUT_MS = 10_000;

/** Every message of a worker carries the id of the request it answers. */
export interface WorkerMessage {
  id: number;
  [key: string]: unknown;
}

/** The worker thread failed (to load, or later): the request will not be answered. */
export class WorkerFailedError extends Error {}

export class WorkerCalls {
  private worker: Worker | null = null;
  private ready = false;
  /** Messages for the worker held until it is ready, in order. */
  private held: object[] = [];
  private startTimer: Timer | null = null;
  private failed = false;
  private nextId = 1;
  private readonly open = new Map<number, CallHandlers>();

  /**
   * `module`: the worker's module (in the compiled binary, an extra entry point of the build, see
   * package.json); `name`: for error messages; `onWorkerFailed`: told once when the worker fails;
   * `startTimeoutMs`: how long it may take to post WORKER_READY.
   */
  constructor(
    private readonly module: string,
    private readonly name: string,
    private readonly onWorkerFailed?: (err: Error) => void,
    private readonly startTimeoutMs = WORKER_START_TIMEOUT_MS,
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
    this.post(message(id));
    return id;
  }

  /** Another message for the worker (credits, cancellations). */
  post(message: object): void {
    if (!this.worker) return;
    if (this.ready) this.worker.postMessage(message);
    else this.held.push(message);
  }

  /** The request is over (answered, or given up): its late messages are ignored. */
  end(id: number): void {
    this.open.delete(id);
    if (this.open.size === 0) this.worker?.unref();
  }

  /** Stops the worker; open requests are told it failed. */
  close(): void {
    this.stop();
    this.failAll(new WorkerFailedError(`${this.name} closed`));
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.module);
    w.onmessage = (e: MessageEvent<WorkerMessage>) => {
      if (e.data.id === WORKER_READY.id) return this.onReady();
      this.open.get(e.data.id)?.onMessage(e.data);
    };
    w.onerror = (e) => this.fail(`${this.name} failed: ${e.message}`);
    w.unref();
    this.worker = w;
    this.startTimer = setTimeout(
      () => this.fail(`${this.name} failed: not started within ${this.startTimeoutMs} ms`),
      this.startTimeoutMs,
    );
    this.startTimer.unref(); // open requests keep the process alive through the worker's ref
    return w;
  }

  private onReady(): void {
    if (!this.worker || this.ready) return;
    this.ready = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
    for (const m of this.held.splice(0)) this.worker.postMessage(m);
  }

  private fail(message: string): void {
    if (!this.worker) return;
    this.stop();
    const err = new WorkerFailedError(message);
    this.onWorkerFailed?.(err);
    this.failAll(err);
  }

  private stop(): void {
    this.worker?.terminate();
    this.worker = null;
    this.failed = true;
    this.held = [];
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
  }

  private failAll(err: WorkerFailedError): void {
    const all = [...this.open.values()];
    this.open.clear();
    for (const h of all) h.onFailed(err);
  }
}
