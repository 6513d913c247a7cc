import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { watch } from "chokidar";
import { DEFAULT_READ_PACING, type PacerTimers, paceDirectoryReads } from "../../src/watcher/read-pacer.ts";
import { makeTempRoot, removeTempRoot } from "./watch-harness.ts";

/** A clock that moves only when told; timers fire when it passes them. */
class StepTimers implements PacerTimers {
  t = 0;
  private queue: { at: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.queue.push({ at: this.t + ms, fn });
    return undefined;
  }
  advance(ms: number): void {
    this.t += ms;
    for (;;) {
      const due = this.queue.filter((q) => q.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.queue.splice(this.queue.indexOf(due), 1);
      due.fn();
    }
  }
  get pending(): number {
    return this.queue.length;
  }
}

/** Stands in for chokidar's handler: each read resolves when the test ends it. */
function fakeWatcher() {
  const reads: { args: unknown[]; end: () => void }[] = [];
  const handler = {
    _handleRead(...args: unknown[]): Promise<void> {
      return new Promise<void>((resolve) => reads.push({ args, end: resolve }));
    },
  };
  const watcher = { _nodeFsHandler: handler, closed: false };
  return { watcher, handler, reads };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const PACING = { lazyDelayMs: 1000, minGapMs: 20, maxGapMs: 100, gapPerReadMs: 2 };

describe("paceDirectoryReads", () => {
  test("a directory's first read runs at once", () => {
    const { watcher, handler, reads } = fakeWatcher();
    expect(paceDirectoryReads(watcher, PACING, new StepTimers())).not.toBeNull();
    expect(handler._handleRead("/d", true)).toBeInstanceOf(Promise);
    expect(reads.map((r) => r.args)).toEqual([["/d", true]]);
  });

  test("later reads wait the lazy delay from the first request and become one read with the latest arguments", async () => {
    const timers = new StepTimers();
    const { watcher, handler, reads } = fakeWatcher();
    paceDirectoryReads(watcher, PACING, timers);
    handler._handleRead("/d", false, "first");
    reads[0]!.end();
    await tick();
    timers.advance(5000); // long after the first read: still not at once
    expect(handler._handleRead("/d", false, "second")).toBeUndefined();
    timers.advance(400);
    expect(handler._handleRead("/d", false, "third")).toBeUndefined();
    timers.advance(599);
    expect(reads).toHaveLength(1);
    timers.advance(1);
    expect(reads.map((r) => r.args[2])).toEqual(["first", "third"]);
  });

  test("an expedited directory is read after the pause only, which stays within min and max", async () => {
    const timers = new StepTimers();
    const { watcher, handler, reads } = fakeWatcher();
    const pacer = paceDirectoryReads(watcher, PACING, timers)!;
    handler._handleRead("/d");
    reads[0]!.end(); // instant read: the minimum pause applies
    await tick();
    handler._handleRead("/d");
    pacer.expedite("/d");
    timers.advance(19);
    expect(reads).toHaveLength(1);
    timers.advance(1);
    expect(reads).toHaveLength(2);
    timers.advance(500); // a slow read: the maximum applies
    reads[1]!.end();
    await tick();
    handler._handleRead("/d");
    pacer.expedite("/d/"); // the same directory, spelt differently
    timers.advance(99);
    expect(reads).toHaveLength(2);
    timers.advance(1);
    expect(reads).toHaveLength(3);
  });

  test("expedited before chokidar asks, or while a read runs: the next read follows the pause", async () => {
    const timers = new StepTimers();
    const { watcher, handler, reads } = fakeWatcher();
    const pacer = paceDirectoryReads(watcher, PACING, timers)!;
    handler._handleRead("/d");
    pacer.expedite("/d"); // during the first read, nothing asked yet
    timers.advance(10);
    handler._handleRead("/d", "during");
    reads[0]!.end();
    await tick();
    timers.advance(19); // pause = 2 x 10 ms, at least 20
    expect(reads).toHaveLength(1);
    timers.advance(1);
    expect(reads.map((r) => r.args[1])).toEqual([undefined, "during"]);
    reads[1]!.end();
    await tick();
    // The expedite was used up: the next request is lazy again.
    handler._handleRead("/d", "lazy");
    timers.advance(999);
    expect(reads).toHaveLength(2);
    timers.advance(1);
    expect(reads).toHaveLength(3);
  });

  test("directories are independent; expediting one never read is a no-op", async () => {
    const timers = new StepTimers();
    const { watcher, handler, reads } = fakeWatcher();
    const pacer = paceDirectoryReads(watcher, PACING, timers)!;
    pacer.expedite("/never");
    expect(timers.pending).toBe(0);
    handler._handleRead("/a");
    handler._handleRead("/b");
    expect(reads.map((r) => r.args[0])).toEqual(["/a", "/b"]);
    reads[0]!.end();
    reads[1]!.end();
    await tick();
    handler._handleRead("/a");
    handler._handleRead("/b");
    pacer.expedite("/a");
    timers.advance(20);
    expect(reads.map((r) => r.args[0])).toEqual(["/a", "/b", "/a"]);
    timers.advance(980);
    expect(reads.map((r) => r.args[0])).toEqual(["/a", "/b", "/a", "/b"]);
  });

  test("a read deferred past close is dropped", async () => {
    const timers = new StepTimers();
    const { watcher, handler, reads } = fakeWatcher();
    paceDirectoryReads(watcher, PACING, timers);
    handler._handleRead("/d");
    handler._handleRead("/d");
    reads[0]!.end();
    await tick();
    watcher.closed = true;
    timers.advance(5000);
    expect(reads).toHaveLength(1);
  });

  test("changes nothing on an object without chokidar's read method", () => {
    const other = { _nodeFsHandler: {} };
    expect(paceDirectoryReads(other)).toBeNull();
    expect(paceDirectoryReads(null)).toBeNull();
  });

  describe("on the installed chokidar", () => {
    let root: string;
    beforeEach(() => {
      root = makeTempRoot();
    });
    afterEach(() => removeTempRoot(root));

    test("with new files arriving, a directory is read again only after a pause, and every file is reported", async () => {
      const w = watch(root, { ignoreInitial: true, atomic: false });
      const handler = (w as unknown as { _nodeFsHandler: { _handleRead: (...a: unknown[]) => unknown } })
        ._nodeFsHandler;
      const inner = handler._handleRead;
      const burstDir = join(root, "burst");
      const spans: { start: number; end: number }[] = [];
      handler._handleRead = function (this: unknown, ...a: unknown[]) {
        const r = inner.apply(this, a);
        if (r instanceof Promise && a[0] === burstDir) {
          const span = { start: performance.now(), end: Number.POSITIVE_INFINITY };
          spans.push(span);
          r.finally(() => {
            span.end = performance.now();
          });
        }
        return r;
      };
      const pacing = { ...DEFAULT_READ_PACING, lazyDelayMs: 150, minGapMs: 100 };
      expect(paceDirectoryReads(w, pacing)).not.toBeNull(); // null if a chokidar upgrade renames its internals
      try {
        await new Promise<void>((r) => w.on("ready", () => r()));
        mkdirSync(burstDir);
        const added = new Set<string>();
        let want = 0;
        let reached: () => void = () => {};
        w.on("add", (p: string) => {
          added.add(p);
          if (added.size === want) reached();
        });
        // Five waves of 100 files; each wave is reported before the next starts, so each needs a read.
        for (let wave = 0; wave < 5; wave++) {
          want += 100;
          const done = new Promise<void>((r) => {
            reached = r;
          });
          for (let i = 0; i < 100; i++) {
            writeFileSync(join(burstDir, `f${wave}-${i}`), "x");
            await new Promise((r) => setImmediate(r)); // chokidar sees events while the wave goes on
          }
          await done;
        }
        expect(added.size).toBe(500);
        expect(spans.length).toBeGreaterThanOrEqual(5);
        // Unpaced, chokidar starts the next read the moment one ends (a gap of ~0 ms).
        for (let i = 1; i < spans.length; i++) {
          expect(spans[i]!.start - spans[i - 1]!.end).toBeGreaterThanOrEqual(pacing.minGapMs - 1);
        }
      } finally {
        await w.close();
      }
    });
  });
});
