import { lstatSync, type Stats } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { type ChokidarOptions, type FSWatcher, watch } from "chokidar";
import { IGNORE_FILE, IgnoreRules } from "./ignore-rules.ts";
import { DEFAULT_READ_PACING, paceDirectoryReads, type ReadPacing } from "./read-pacer.ts";
import { isSameOrBelow, joinRelative, toRelativePosix } from "./relative-path.ts";
import { realTimers, type SettledPath, SettleQueue, type SettleTimers } from "./settle-queue.ts";
import { type WalkEntry, walkFolder } from "./walk.ts";

export interface WatchEvent {
  /** posix, relative to root */
  path: string;
  kind: "upsert" | "remove";
  isDir: boolean;
  /** For an upsert of a regular file: the lstat the watcher took when the path settled. */
  fileStat?: { ino: number; size: number; mtimeMs: number; mode: number };
}

/** What FolderWatcher needs from chokidar; a seam so tests can inject errors. */
export interface WatchBackend {
  // biome-ignore lint/suspicious/noExplicitAny: listener arguments differ per event, as in EventEmitter
  on(event: string, listener: (...args: any[]) => void): unknown;
  close(): Promise<void>;
  /** Have the backend re-read `directory` (absolute) soon: a subdirectory appeared or went there. */
  expediteRead?(directory: string): void;
}

export interface FolderWatcherOptions {
  root: string;
  /** A path is reported once no event for it arrived for settleMs (coalesces a burst of writes). Default 15. */
  settleMs?: number;
  /** Cap on the total delay of one path, so a continuous writer still gets reported. Default 200. */
  maxSettleMs?: number;
  /** Periodic full walk: the backstop for lost inotify events. Default 10_000. */
  reconcileIntervalMs?: number;
  ignore?: IgnoreRules;
  /** Batched: everything that settled in the same tick. */
  onEvents: (events: WatchEvent[]) => void;
  /** Full list of live relative paths (files and dirs) found by a walk (periodic, initial or reconcileNow),
   * and beside it what the walk's lstat saw of each (same order). */
  onReconcile?: (paths: string[], entries: WalkEntry[]) => void;
  onError?: (err: Error) => void;
  /** Test seam: replaces chokidar. */
  createBackend?: (root: string, options: ChokidarOptions) => WatchBackend;
  /** Test seam: clock and timers of the settle queue. */
  timers?: SettleTimers;
}

/** Reported (once per disappearance) when the watched folder itself is gone; removes are then withheld. */
export class WatchRootMissingError extends Error {
  readonly code = "ENOENT";
  constructor(readonly root: string) {
    super(`watched folder is gone: ${root} (remove events withheld until it is back)`);
    this.name = "WatchRootMissingError";
  }
}

const STAT_BATCH = 256;
/** Batches up to this size are stat'ed synchronously (a burst's batches are larger: they stay async,
 * so a slow disk does not hold up the event loop for long). */
const SYNC_STAT_MAX = 64;

/**
 * Detects which paths under a folder may have changed. It reports candidates, generously; a scanner
 * downstream stats and hashes them and decides whether anything really changed.
 *
 * Signals: chokidar watches directories only (addDir/unlinkDir; it follows new subdirectories), and its
 * raw fs.watch events on each directory name the entry that was created, written, chmod'ed, renamed or
 * removed. chokidar does not watch files: a watch, an lstat and an `add` per new file cost about a third
 * of a follower's CPU in a burst and told nothing the directory's raw events do not (and chokidar
 * throttles `change` to one per 50 ms with no trailing event). Its re-reads of a directory are lazy;
 * they are expedited when a subdirectory appears or goes (read-pacer.ts).
 * Every signal touches a per-path settle timer; when it settles the path is lstat'ed,
 * so kind and isDir describe the folder after the burst, not a guess from event order.
 * A directory seen for the first time is walked (twice: at once and after maxSettleMs) because chokidar
 * reads a new directory before it watches it, and files created in between would be missed. A periodic
 * full walk (onReconcile) is the backstop for everything else, including ENOSPC (watch limit).
 */
export class FolderWatcher {
  readonly root: string;
  private readonly rules: IgnoreRules;
  private readonly settleMs: number;
  private readonly maxSettleMs: number;
  private readonly reconcileIntervalMs: number;
  private readonly settle: SettleQueue;
  private readonly createBackend: (root: string, options: ChokidarOptions) => WatchBackend;
  private readonly abort = new AbortController();
  /** Directories known to exist (from walks, addDir and settled stats): tells dir watches from file watches. */
  private knownDirs = new Set<string>();
  /** Dirs chokidar announced (addDir) that have not been swept yet. */
  private readonly dirsToSweep = new Set<string>();
  /** Dirs learnt while a reconcile walk runs, merged into its result so they are not forgotten. */
  private dirsLearntDuringWalk: Set<string> | undefined;
  /** chokidar instances whose events count: during a swap both old and new, so there is no gap. */
  private readonly liveBackends = new Set<WatchBackend>();
  private readonly closedSignal: Promise<void>;
  private signalClosed: () => void = noop;
  private started = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private rootMissing = false;
  private processing: Promise<void> = Promise.resolve();
  private reconcileRunning: Promise<string[]> | undefined;
  private reconcileQueued: Promise<string[]> | undefined;
  private reconcileTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly sweepTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly background = new Set<Promise<unknown>>();
  private backendSwap: Promise<void> | undefined;

  constructor(private readonly opts: FolderWatcherOptions) {
    this.root = resolve(opts.root);
    this.rules = opts.ignore ?? new IgnoreRules(this.root);
    this.settleMs = opts.settleMs ?? 15;
    this.maxSettleMs = Math.max(opts.maxSettleMs ?? 200, this.settleMs);
    this.reconcileIntervalMs = opts.reconcileIntervalMs ?? 10_000;
    this.closedSignal = new Promise<void>((res) => {
      this.signalClosed = res;
    });
    this.createBackend = opts.createBackend ?? ((root, options) => chokidarBackend(root, options));
    this.settle = new SettleQueue({
      settleMs: this.settleMs,
      maxSettleMs: this.maxSettleMs,
      timers: opts.timers ?? realTimers,
      onSettled: (batch) => this.enqueueBatch(batch),
    });
  }

  /** Resolves once watching is live and the initial walk has been reported through onReconcile. */
  async start(): Promise<void> {
    if (this.started) throw new Error("FolderWatcher already started");
    this.started = true;
    const st = await stat(this.root);
    if (!st.isDirectory()) throw new Error(`not a directory: ${this.root}`);
    this.rules.reload();
    try {
      // Watch first, then walk: a change during the walk is seen by one or the other.
      await this.swapBackend();
      await this.reconcileNow();
    } catch (err) {
      await this.close();
      throw err;
    }
    this.scheduleReconcile();
  }

  /**
   * Walks the whole folder now, reports the list through onReconcile and returns it. A call made while a
   * walk runs gets a fresh walk after it (a running walk may already have passed a new file).
   */
  reconcileNow(): Promise<string[]> {
    if (this.closed) return Promise.reject(new Error("FolderWatcher is closed"));
    if (this.reconcileRunning === undefined) {
      this.reconcileRunning = this.runReconcile().finally(() => {
        this.reconcileRunning = undefined;
      });
      return this.reconcileRunning;
    }
    if (this.reconcileQueued === undefined) {
      this.reconcileQueued = this.reconcileRunning.then(noop, noop).then(() => {
        this.reconcileQueued = undefined;
        return this.reconcileNow();
      });
    }
    return this.reconcileQueued;
  }

  /** Stops everything: chokidar, timers, walks. Pending unsettled paths are dropped (scanAll covers restarts). */
  close(): Promise<void> {
    if (this.closePromise === undefined) this.closePromise = this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    this.settle.clear();
    if (this.reconcileTimer !== undefined) clearTimeout(this.reconcileTimer);
    for (const t of this.sweepTimers) clearTimeout(t);
    this.sweepTimers.clear();
    this.abort.abort();
    this.signalClosed();
    const backends = [...this.liveBackends];
    this.liveBackends.clear();
    await Promise.allSettled([
      ...backends.map((b) => b.close()),
      this.backendSwap,
      this.reconcileRunning,
      this.reconcileQueued,
      this.processing,
      ...this.background,
    ]);
  }

  // --- chokidar -------------------------------------------------------------------------------------

  /**
   * Starts a new chokidar instance, waits for its ready, then closes the old one: no unwatched gap.
   * `closeOldFirst` is for a folder that was deleted and recreated: chokidar shares fs.watch handles between
   * instances by path (a module-wide map), so a new instance would inherit the old, dead inode's handles.
   */
  private swapBackend(closeOldFirst = false): Promise<void> {
    const run = async () => {
      if (closeOldFirst) await this.closeBackends();
      const next = this.createBackend(this.root, {
        ignoreInitial: true,
        followSymlinks: false,
        atomic: false, // it delays every unlink by 100 ms and hides dotfiles; we settle ourselves
        usePolling: false,
        awaitWriteFinish: false,
        persistent: true,
        ignored: (abs: string, stats?: Stats) => this.chokidarIgnores(abs, stats),
      });
      next.on("error", (err: unknown) => this.reportBackendError(err));
      next.on("all", (event: string, abs: string) => {
        if (this.liveBackends.has(next)) this.onChokidarEvent(event, abs);
      });
      next.on("raw", (_event: string, evPath: unknown, details: unknown) => {
        if (this.liveBackends.has(next)) this.onRawEvent(evPath, details);
      });
      const ready = new Promise<void>((res) => next.on("ready", () => res()));
      const previous = [...this.liveBackends];
      this.liveBackends.add(next);
      await Promise.race([ready, this.closedSignal]);
      if (this.closed) {
        this.liveBackends.delete(next);
        await next.close();
        return;
      }
      await this.closeBackends(previous);
    };
    const swap = (this.backendSwap ?? Promise.resolve()).then(noop, noop).then(run);
    this.backendSwap = swap;
    return swap;
  }

  private async closeBackends(which = [...this.liveBackends]): Promise<void> {
    for (const b of which) this.liveBackends.delete(b);
    await Promise.allSettled(which.map((b) => b.close()));
  }

  private chokidarIgnores(abs: string, stats?: Stats): boolean {
    const rel = toRelativePosix(this.root, abs);
    if (rel === undefined || rel === "") return false;
    if (stats === undefined) return this.rules.ignoresEitherWay(rel);
    // Files are left to raw events (see the class comment): chokidar gets directories only.
    return !stats.isDirectory() || this.rules.ignores(rel, true);
  }

  private reportBackendError(err: unknown): void {
    const e = asError(err);
    if ((e as NodeJS.ErrnoException).code === "ENOSPC") {
      e.message = `file watch limit reached (ENOSPC; raise fs.inotify.max_user_watches); changes in unwatched directories are found by the periodic reconcile: ${e.message}`;
    }
    this.reportError(e);
  }

  private onChokidarEvent(event: string, abs: string): void {
    const rel = toRelativePosix(this.root, abs);
    if (rel === undefined) return;
    if (rel === "") {
      this.checkRootSoon();
      return;
    }
    switch (event) {
      case "addDir":
        // Known at once, so raw events from its new watch are read as children; swept when it settles.
        this.learnDir(rel);
        this.dirsToSweep.add(rel);
        this.touch(rel, true);
        break;
      case "unlinkDir":
        this.touch(rel, true);
        break;
      case "add":
      case "change":
      case "unlink":
        this.touch(rel, false);
        break;
    }
  }

  /**
   * fs.watch events as chokidar saw them: `details.watchedPath` is the watched directory or file, `evPath`
   * the entry's name. A watched directory reporting its own name may mean itself or a child of that name:
   * touch both (a spurious path costs a stat).
   */
  private onRawEvent(evPath: unknown, details: unknown): void {
    const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
    if (typeof watched !== "string") return;
    const watchedRel = toRelativePosix(this.root, resolve(watched));
    if (watchedRel === undefined) return;
    const isDirWatch = watchedRel === "" || this.knownDirs.has(watchedRel);
    if (typeof evPath !== "string" || evPath === "" || !isDirWatch) {
      if (watchedRel === "") this.checkRootSoon();
      else this.touch(watchedRel, undefined);
      return;
    }
    const name = basename(evPath);
    this.touch(joinRelative(watchedRel, name), undefined);
    if (name === basename(watched)) {
      if (watchedRel === "") this.checkRootSoon();
      else this.touch(watchedRel, true);
    }
  }

  private touch(rel: string, isDirHint: boolean | undefined): void {
    if (this.closed) return;
    if (this.rules.ignoresEitherWay(rel)) return;
    this.settle.touch(rel, isDirHint);
  }

  private learnDir(rel: string): void {
    this.knownDirs.add(rel);
    this.dirsLearntDuringWalk?.add(rel);
  }

  private forgetDir(rel: string): void {
    for (const d of this.knownDirs) if (isSameOrBelow(d, rel)) this.knownDirs.delete(d);
  }

  // --- settled paths -> events ----------------------------------------------------------------------

  private enqueueBatch(batch: SettledPath[]): void {
    // Serialised, so batches reach onEvents in the order they settled.
    this.processing = this.processing
      .then(() => this.processBatch(batch))
      .catch((err) => this.reportError(err));
  }

  private async processBatch(batch: SettledPath[]): Promise<void> {
    if (this.closed) return;
    if (batch.some((p) => p.path === IGNORE_FILE) && this.rules.reload()) this.onRulesChanged();
    const stats: (Stats | NodeJS.ErrnoException)[] = [];
    if (batch.length <= SYNC_STAT_MAX) {
      // A few synchronous lstats cost microseconds; a thread-pool round trip each costs more.
      for (const p of batch) stats.push(lstatSyncOrErrno(join(this.root, p.path)));
    } else {
      for (let i = 0; i < batch.length; i += STAT_BATCH) {
        const slice = batch.slice(i, i + STAT_BATCH);
        stats.push(...(await Promise.all(slice.map((p) => lstat(join(this.root, p.path)).catch(asErrno)))));
      }
    }
    if (this.closed) return;
    const events: WatchEvent[] = [];
    const newDirs: string[] = [];
    /** Parents of subdirectories that appeared or went: chokidar must re-read them (read-pacer.ts). */
    const dirParents = new Set<string>();
    let anyRemove = false;
    batch.forEach(({ path, isDirHint }, i) => {
      const st = stats[i]!;
      const unswept = this.dirsToSweep.delete(path);
      const gone = !isStats(st) && (st.code === "ENOENT" || st.code === "ENOTDIR");
      if (!gone) {
        // Exists (or cannot be stat'ed, e.g. EACCES: report it and let the scanner meet the error).
        const isDir = isStats(st) ? st.isDirectory() : (isDirHint ?? this.knownDirs.has(path));
        if (this.rules.ignores(path, isDir)) return;
        if (isDir && (unswept || !this.knownDirs.has(path))) newDirs.push(path);
        // A directory here, or a file where one was: chokidar must see it (cheap: directories are few).
        if (isDir || this.knownDirs.has(path)) dirParents.add(parentOf(path));
        if (isDir) this.learnDir(path);
        else if (this.knownDirs.has(path)) this.forgetDir(path); // a file holds a directory's name now
        const ev: WatchEvent = { path, kind: "upsert", isDir };
        if (isStats(st) && st.isFile())
          ev.fileStat = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode };
        events.push(ev);
      } else {
        const isDir = isDirHint ?? this.knownDirs.has(path);
        if (this.rules.ignores(path, isDir)) return;
        if (isDir) dirParents.add(parentOf(path));
        this.forgetDir(path);
        anyRemove = true;
        events.push({ path, kind: "remove", isDir });
      }
    });
    if (anyRemove && !(await this.rootExists())) {
      this.markRootMissing();
      return;
    }
    if (this.closed) return;
    for (const parent of dirParents) {
      for (const b of this.liveBackends) b.expediteRead?.(join(this.root, parent));
    }
    if (events.length > 0) this.emitEvents(events);
    if (newDirs.length > 0) this.sweepNewDirs(newDirs, true);
  }

  private emitEvents(events: WatchEvent[]): void {
    try {
      this.opts.onEvents(events);
    } catch (err) {
      this.reportError(err);
    }
  }

  /**
   * Walks directories seen for the first time and touches everything inside: chokidar reads a new
   * directory before watching it, so files created in that window would otherwise wait for a reconcile.
   * Repeated once after maxSettleMs for the same reason (the watch may not have been live at the first walk).
   */
  private sweepNewDirs(dirs: string[], again: boolean): void {
    const tops = dirs.filter((d) => !dirs.some((other) => other !== d && isSameOrBelow(d, other)));
    this.track(
      (async () => {
        for (const dir of tops) {
          try {
            for await (const entry of walkFolder(this.root, this.rules, {
              under: dir,
              signal: this.abort.signal,
            })) {
              if (entry.isDir) {
                this.learnDir(entry.path);
                this.dirsToSweep.delete(entry.path); // covered by this sweep
              }
              this.touch(entry.path, entry.isDir);
            }
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== "ENOENT" && code !== "ENOTDIR") this.reportError(err);
          }
        }
      })(),
    );
    if (!again || this.closed) return;
    const timer = setTimeout(() => {
      this.sweepTimers.delete(timer);
      if (!this.closed) this.sweepNewDirs(tops, false);
    }, this.maxSettleMs);
    timer.unref();
    this.sweepTimers.add(timer);
  }

  // --- reconcile ------------------------------------------------------------------------------------

  private scheduleReconcile(): void {
    if (this.closed) return;
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = undefined;
      this.reconcileNow()
        .catch((err) => {
          if (!(err instanceof WatchRootMissingError) && !this.closed) this.reportError(err);
        })
        .finally(() => this.scheduleReconcile());
    }, this.reconcileIntervalMs);
    this.reconcileTimer.unref();
  }

  private async runReconcile(): Promise<string[]> {
    if (this.rules.reload() && this.started) await this.swapBackend();
    if (this.rootMissing && (await this.rootExists())) {
      // The folder is back (recreated or remounted): the old chokidar instance watched the old inode.
      this.rootMissing = false;
      await this.swapBackend(true);
    }
    const paths: string[] = [];
    const entries: WalkEntry[] = [];
    const dirs = new Set<string>();
    this.dirsLearntDuringWalk = new Set();
    try {
      for await (const entry of walkFolder(this.root, this.rules, { signal: this.abort.signal })) {
        paths.push(entry.path);
        entries.push(entry);
        if (entry.isDir) dirs.add(entry.path);
      }
    } catch (err) {
      if (!(await this.rootExists())) {
        this.markRootMissing();
        throw new WatchRootMissingError(this.root);
      }
      throw err;
    } finally {
      for (const d of this.dirsLearntDuringWalk) dirs.add(d);
      this.dirsLearntDuringWalk = undefined;
    }
    if (this.closed) throw new Error("FolderWatcher closed during reconcile");
    this.knownDirs = dirs;
    try {
      this.opts.onReconcile?.(paths, entries);
    } catch (err) {
      this.reportError(err);
    }
    return paths;
  }

  private onRulesChanged(): void {
    // chokidar does not revisit directories it skipped: rebuild it, then walk so newly visible files surface.
    this.track(
      this.swapBackend()
        .then(() => this.reconcileNow())
        .catch((err) => {
          if (!this.closed) this.reportError(err);
        }),
    );
  }

  // --- root -----------------------------------------------------------------------------------------

  private checkRootSoon(): void {
    if (this.closed) return;
    this.track(
      this.rootExists().then((exists) => {
        if (!exists) this.markRootMissing();
      }),
    );
  }

  private async rootExists(): Promise<boolean> {
    try {
      return (await stat(this.root)).isDirectory();
    } catch {
      return false;
    }
  }

  private markRootMissing(): void {
    if (this.rootMissing || this.closed) return;
    this.rootMissing = true;
    this.reportError(new WatchRootMissingError(this.root));
  }

  // --- plumbing -------------------------------------------------------------------------------------

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    p.finally(() => this.background.delete(p)).catch(noop);
  }

  private reportError(err: unknown): void {
    if (this.closed) return;
    try {
      this.opts.onError?.(asError(err));
    } catch {
      // A throwing error handler must not take the watcher down.
    }
  }
}

function noop(): void {}

/** The default backend: chokidar with paced directory reads (exported for tests, which pass a pacing). */
export function chokidarBackend(
  root: string,
  options: ChokidarOptions,
  pacing: ReadPacing = DEFAULT_READ_PACING,
): WatchBackend & { readonly chokidar: FSWatcher } {
  const w = watch(root, options);
  const pacer = paceDirectoryReads(w, pacing);
  return {
    chokidar: w,
    on: (event, listener) => w.on(event as never, listener),
    close: () => w.close(),
    expediteRead: (directory) => pacer?.expedite(directory),
  };
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function isStats(x: Stats | NodeJS.ErrnoException): x is Stats {
  return typeof (x as Stats).isDirectory === "function";
}

function lstatSyncOrErrno(abs: string): Stats | NodeJS.ErrnoException {
  try {
    return lstatSync(abs);
  } catch (err) {
    return asErrno(err);
  }
}

function asErrno(err: unknown): NodeJS.ErrnoException {
  return asError(err) as NodeJS.ErrnoException;
}
