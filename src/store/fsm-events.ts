// Typed events of the file state machine. TUI, metrics, the admin SUBSCRIBE stream and logs all read
// these; the FSM never knows who listens.

interface Base {
  /** Log index of the entry that caused the event (the snapshot index for restore). */
  index: number;
  /** Milliseconds the apply of this command took, from the injected clock (0 without one). */
  applyMs: number;
}

export interface ApplyEvent extends Base {
  type: "apply";
  op: "put" | "mkdir";
  path: string;
  origin: string;
  size: number;
  hash: string;
  /** The origin's mtime of the change: with a shared wall clock, now - mtimeMs approximates end-to-end latency. */
  mtimeMs: number;
  /** False when the file already had these bytes (e.g. on the node that made the change). */
  wrote: boolean;
}

export interface ConflictEvent extends Base {
  type: "conflict";
  path: string;
  /** Where the losing (later-committed) version was written, on every node. */
  conflictPath: string;
  origin: string;
  size: number;
  hash: string;
}

export interface DeleteEvent extends Base {
  type: "delete";
  op: "delete" | "rmdir";
  path: string;
  origin: string;
}

/** A local, unproposed edit was in the way of an apply and was moved aside instead of being destroyed. */
export interface LocalEditPreservedEvent extends Base {
  type: "local-edit-preserved";
  path: string;
  movedTo: string;
}

export interface SkipEvent extends Base {
  type: "skip";
  path: string;
  origin: string;
  reason: "noop" | "drop-delete" | "not-empty" | "rejected";
  detail?: string;
}

export interface RestoreEvent extends Base {
  type: "restore";
  files: number;
  written: number;
  removed: number;
}

export type FsmEvent =
  | ApplyEvent
  | ConflictEvent
  | DeleteEvent
  | LocalEditPreservedEvent
  | SkipEvent
  | RestoreEvent;
export type FsmEventType = FsmEvent["type"];
type EventOf<T extends FsmEventType> = Extract<FsmEvent, { type: T }>;

export class FsmEvents {
  private readonly byType = new Map<FsmEventType, Set<(e: FsmEvent) => void>>();
  private readonly any = new Set<(e: FsmEvent) => void>();

  on<T extends FsmEventType>(type: T, fn: (e: EventOf<T>) => void): () => void {
    let set = this.byType.get(type);
    if (!set) {
      set = new Set();
      this.byType.set(type, set);
    }
    const f = fn as (e: FsmEvent) => void;
    set.add(f);
    return () => set.delete(f);
  }

  onAny(fn: (e: FsmEvent) => void): () => void {
    this.any.add(fn);
    return () => this.any.delete(fn);
  }

  emit(e: FsmEvent): void {
    // A listener that throws must not break an apply (state is already committed when events fire).
    for (const fn of this.byType.get(e.type) ?? []) safely(fn, e);
    for (const fn of this.any) safely(fn, e);
  }
}

function safely(fn: (e: FsmEvent) => void, e: FsmEvent): void {
  try {
    fn(e);
  } catch {
    // ignored on purpose: listeners are observers
  }
}
