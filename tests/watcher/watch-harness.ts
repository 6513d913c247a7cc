import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FolderWatcher,
  type FolderWatcherOptions,
  type WatchEvent,
} from "../../src/watcher/folder-watcher.ts";
import type { SettleTimers } from "../../src/watcher/settle-queue.ts";
import type { WalkEntry } from "../../src/watcher/walk.ts";

/** Generous: the machine may be a loaded 2-core box. Tests wait on events, not on this. */
export const DEADLINE_MS = 10_000;

export function makeTempRoot(prefix = "pickbox-watch-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeTempRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

export interface LoggedEvent extends WatchEvent {
  batch: number;
  at: number;
}

interface Waiter {
  done: () => boolean;
  resolve: () => void;
}

/** Records every callback of a FolderWatcher and lets a test await a condition with a deadline. */
export class WatchLog {
  readonly events: LoggedEvent[] = [];
  readonly errors: Error[] = [];
  readonly reconciles: string[][] = [];
  readonly reconciledEntries: WalkEntry[][] = [];
  batches = 0;
  private readonly waiters = new Set<Waiter>();

  readonly onEvents = (events: WatchEvent[]): void => {
    this.batches++;
    const at = performance.now();
    for (const e of events) this.events.push({ ...e, batch: this.batches, at });
    this.wake();
  };
  readonly onError = (err: Error): void => {
    this.errors.push(err);
    this.wake();
  };
  readonly onReconcile = (paths: string[], entries: WalkEntry[]): void => {
    this.reconciles.push(paths);
    this.reconciledEntries.push(entries);
    this.wake();
  };

  /** Events for `path` (optionally of one kind) recorded so far. */
  of(path: string, kind?: WatchEvent["kind"]): LoggedEvent[] {
    return this.events.filter((e) => e.path === path && (kind === undefined || e.kind === kind));
  }

  /** Resolves when `done()` holds; rejects with `what` after the deadline. */
  until(done: () => boolean, what: string, deadlineMs = DEADLINE_MS): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        done,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}; events: ${this.describe()}`));
      }, deadlineMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves with the first event (recorded from index `from` on) for `path` of `kind`. */
  async event(path: string, kind: WatchEvent["kind"], from = 0): Promise<LoggedEvent> {
    const find = () => this.events.slice(from).find((e) => e.path === path && e.kind === kind);
    await this.until(() => find() !== undefined, `${kind} ${path}`);
    return find()!;
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      if (w.done()) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private describe(): string {
    const tail = this.events.slice(-20).map((e) => `${e.kind}:${e.path}${e.isDir ? "/" : ""}`);
    return `${this.events.length} total, last [${tail.join(", ")}]; errors [${this.errors.map((e) => e.message).join("; ")}]`;
  }
}

let barrierSeq = 0;

/**
 * Proves that everything written before it has had its chance to be reported: writes a fresh sentinel
 * file and awaits its upsert. Earlier paths settle no later than the sentinel (same settleMs, touched
 * earlier) and batches are delivered in order, so an event that has not arrived by now never will.
 */
export async function barrier(root: string, log: WatchLog): Promise<void> {
  const name = `barrier-${++barrierSeq}.sentinel`;
  const from = log.events.length;
  writeFileSync(join(root, name), "b");
  await log.event(name, "upsert", from);
}

export async function startWatcher(
  root: string,
  log: WatchLog,
  extra: Partial<FolderWatcherOptions> = {},
): Promise<FolderWatcher> {
  const watcher = new FolderWatcher({
    root,
    onEvents: log.onEvents,
    onError: log.onError,
    onReconcile: log.onReconcile,
    ...extra,
  });
  await watcher.start();
  return watcher;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, idx)]!;
}

/** A clock that only moves when the test says so; timers fire in due order during advance(). */
export class ManualTimers implements SettleTimers {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { due: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get armed(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].due <= end && (!next || entry[1].due < next[1].due)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].due;
      next[1].fn();
    }
    this.t = end;
  }
}
