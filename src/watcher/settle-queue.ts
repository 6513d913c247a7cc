/** Time and timers, injected so the settling rule is testable with a manual clock. */
export interface SettleTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: SettleTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A path whose burst of events has settled. `isDirHint` is the last type an event claimed, if any. */
export interface SettledPath {
  path: string;
  isDirHint: boolean | undefined;
}

export interface SettleQueueOptions {
  /** A path settles once no touch arrived for it for this long. */
  settleMs: number;
  /** ... or once this long passed since its first touch, so a continuous writer is still reported. */
  maxSettleMs: number;
  timers: SettleTimers;
  /** Everything that settled at the same timer tick, in first-touch order. */
  onSettled: (batch: SettledPath[]) => void;
}

interface Pending {
  firstAt: number;
  lastAt: number;
  isDirHint: boolean | undefined;
}

/**
 * Per-path debounce with a cap. One timer for the whole queue, armed for the earliest due path, so a
 * burst of thousands of paths costs one timer, and paths due at (almost) the same time share a batch.
 */
export class SettleQueue {
  private readonly pending = new Map<string, Pending>();
  private timer: unknown;
  private timerDueAt = Number.POSITIVE_INFINITY;

  constructor(private readonly opts: SettleQueueOptions) {}

  get size(): number {
    return this.pending.size;
  }

  touch(path: string, isDirHint?: boolean): void {
    const now = this.opts.timers.now();
    const entry = this.pending.get(path);
    if (entry === undefined) {
      this.pending.set(path, { firstAt: now, lastAt: now, isDirHint });
    } else {
      entry.lastAt = now;
      if (isDirHint !== undefined) entry.isDirHint = isDirHint;
    }
    const due = this.dueAt(this.pending.get(path)!);
    if (due < this.timerDueAt) this.arm(due);
  }

  /** Drops everything pending and cancels the timer. */
  clear(): void {
    this.pending.clear();
    this.disarm();
  }

  private dueAt(entry: Pending): number {
    return Math.min(entry.lastAt + this.opts.settleMs, entry.firstAt + this.opts.maxSettleMs);
  }

  private arm(dueAt: number): void {
    this.disarm();
    this.timerDueAt = dueAt;
    const delay = Math.max(0, dueAt - this.opts.timers.now());
    this.timer = this.opts.timers.setTimeout(() => this.fire(), delay);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.opts.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Number.POSITIVE_INFINITY;
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDueAt = Number.POSITIVE_INFINITY;
    // Timers fire a little late or early; 1 ms of slack lets near-simultaneous paths share a batch.
    const now = this.opts.timers.now() + 1;
    const batch: SettledPath[] = [];
    let nextDue = Number.POSITIVE_INFINITY;
    for (const [path, entry] of this.pending) {
      const due = this.dueAt(entry);
      if (due <= now) {
        batch.push({ path, isDirHint: entry.isDirHint });
        this.pending.delete(path);
      } else if (due < nextDue) {
        nextDue = due;
      }
    }
    if (nextDue !== Number.POSITIVE_INFINITY) this.arm(nextDue);
    if (batch.length > 0) this.opts.onSettled(batch);
  }
}
