// chokidar learns what a directory holds by reading all of it (readdir, then an lstat per entry) after
// every event in it, and when events arrive during a read it starts the next read the moment that one
// ends. During a burst of new files this is a busy loop whose every pass grows with the directory:
// O(n²) work for n files, on every node (the origin's user writes, the others' applies). FolderWatcher
// does not need these reads to learn of a change (raw events name the entry), only for chokidar to
// watch new subdirectories. So a directory read lately is read again only after a pause proportional
// to that read, capped at half a second. A later read only delays chokidar's addDir; FolderWatcher
// sweeps a new directory when its raw event comes and again after that addDir, so nothing inside is
// missed meanwhile. (File API bench, 32 writers in 32 directories: 20-100 ms pauses gave 568-576
// files/s, 100-500 ms 657-716, 250-1000 ms 766-771.)

export interface ReadPacing {
  /** Shortest pause between the end of one read of a directory and the start of the next. */
  minGapMs: number;
  /** Longest pause, whatever the last read cost. */
  maxGapMs: number;
  /** The pause is this many times the last read's duration (within min and max). */
  gapPerReadMs: number;
}

export const DEFAULT_READ_PACING: ReadPacing = { minGapMs: 100, maxGapMs: 500, gapPerReadMs: 4 };

/** The clock and timer the pacer uses; a seam for tests. */
export interface PacerTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
}

const realTimers: PacerTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
};

type ReadFn = (directory: string, ...rest: unknown[]) => unknown;

interface DirState {
  running: boolean;
  lastEnd: number;
  lastMs: number;
  timer: boolean;
  /** Arguments of the latest read asked for while paused; the deferred read uses them. */
  pending: unknown[] | undefined;
}

/**
 * Paces chokidar's directory reads on `watcher` (a chokidar FSWatcher). A read asked for while the
 * same directory is being read, or within the pause after one, is deferred and coalesced into one read
 * at the end of the pause; nothing is dropped. A directory's first read runs at once (chokidar awaits
 * it before watching the directory). Returns false, changing nothing, when this chokidar does not
 * have the internal read method (a test pins the installed version).
 */
export function paceDirectoryReads(
  watcher: unknown,
  pacing: ReadPacing = DEFAULT_READ_PACING,
  timers: PacerTimers = realTimers,
): boolean {
  const handler = (watcher as { _nodeFsHandler?: { _handleRead?: unknown } } | null)?._nodeFsHandler;
  const original = handler?._handleRead;
  if (!handler || typeof original !== "function") return false;
  const read = original as ReadFn;
  const dirs = new Map<string, DirState>();
  const closed = () => (watcher as { closed?: boolean }).closed === true;

  const gap = (st: DirState) =>
    Math.min(pacing.maxGapMs, Math.max(pacing.minGapMs, st.lastMs * pacing.gapPerReadMs));

  const finish = (key: string, st: DirState, started: number) => {
    st.running = false;
    st.lastEnd = timers.now();
    st.lastMs = st.lastEnd - started;
    if (st.pending) schedule(key, st);
  };

  const start = (key: string, st: DirState, args: unknown[]): unknown => {
    st.running = true;
    const started = timers.now();
    let result: unknown;
    try {
      result = read.apply(handler, args as [string, ...unknown[]]);
    } catch (e) {
      finish(key, st, started);
      throw e;
    }
    if (result instanceof Promise) {
      result.then(
        () => finish(key, st, started),
        () => finish(key, st, started),
      );
    } else {
      finish(key, st, started); // chokidar declined (closed, or its own throttle): nothing runs
    }
    return result;
  };

  const schedule = (key: string, st: DirState) => {
    if (st.timer || st.running) return; // the running read's end schedules it
    st.timer = true;
    const wait = Math.max(0, st.lastEnd + gap(st) - timers.now());
    timers.setTimeout(() => {
      st.timer = false;
      const args = st.pending;
      st.pending = undefined;
      // Nothing else starts a read of this directory while the timer is set, so none is running.
      if (args && !closed()) void start(key, st, args);
    }, wait);
  };

  handler._handleRead = function paced(directory: string, ...rest: unknown[]): unknown {
    const args = [directory, ...rest];
    const key = String(directory);
    let st = dirs.get(key);
    if (!st) {
      st = { running: false, lastEnd: 0, lastMs: 0, timer: false, pending: undefined };
      dirs.set(key, st);
      return start(key, st, args);
    }
    if (st.running || st.timer || timers.now() < st.lastEnd + gap(st)) {
      st.pending = args;
      schedule(key, st);
      return undefined;
    }
    return start(key, st, args);
  };
  return true;
}
