import {
  initialState,
  withCluster,
  withClusterError,
  withEvent,
  withFiles,
  withLogLine,
} from "../model/tui-state.ts";
import type { ClusterMemberStatus, FileEntry, LogLevel, NodeEventLike, TuiState } from "../model/types.ts";
import type { TuiSink } from "../source/data-source.ts";

export interface TuiStoreOptions {
  mode: TuiState["mode"];
  via: string;
  self?: string | null;
  /** Injected clock (ms since epoch). */
  now?: () => number;
  /** Coalesce bursts: listeners hear at most once per this many ms (0 = at once, for tests). */
  notifyDelayMs?: number;
}

/** Holds TuiState; a source writes into it through the TuiSink methods, React reads it via subscribe. */
export class TuiStore implements TuiSink {
  private state: TuiState;
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;
  private readonly delay: number;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(o: TuiStoreOptions) {
    this.state = initialState(o.mode, o.via, o.self ?? null);
    this.now = o.now ?? Date.now;
    this.delay = o.notifyDelayMs ?? 50;
  }

  getState = (): TuiState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  clock(): number {
    return this.now();
  }

  cluster(members: ClusterMemberStatus[], self: string | null, via: string): void {
    this.set(withCluster(this.state, members, self, via, this.now()));
  }

  clusterError(message: string): void {
    this.set(withClusterError(this.state, message, this.now()));
  }

  files(node: string, entries: FileEntry[] | null, error: string | null): void {
    this.set(withFiles(this.state, node, entries, error, this.now()));
  }

  event(e: NodeEventLike): void {
    this.set(withEvent(this.state, e, this.now()));
  }

  log(level: LogLevel, node: string | null, msg: string, at?: number | null): void {
    this.set(withLogLine(this.state, { at: at ?? this.now(), level, node, msg }));
  }

  /** Stop pending notifications (after the UI is gone). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private set(next: TuiState): void {
    if (next === this.state) return;
    this.state = next;
    if (this.delay === 0) {
      this.emit();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.emit();
    }, this.delay);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}
