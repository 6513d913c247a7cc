import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { EventEmitter } from "node:events";
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { watch } from "chokidar";
import {
  chokidarBackend,
  FolderWatcher,
  type WatchBackend,
  WatchRootMissingError,
} from "../../src/watcher/folder-watcher.ts";
import { DEFAULT_READ_PACING } from "../../src/watcher/read-pacer.ts";
import {
  barrier,
  ManualTimers,
  makeTempRoot,
  removeTempRoot,
  startWatcher,
  WatchLog,
} from "./watch-harness.ts";

// Above the harness deadline (10 s), so a missing event fails with its own message, not a test timeout.
setDefaultTimeout(30_000);

let root: string;
let log: WatchLog;
let watcher: FolderWatcher | undefined;

beforeEach(() => {
  root = makeTempRoot();
  log = new WatchLog();
});
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  removeTempRoot(root);
});

const p = (rel: string) => join(root, rel);

describe("FolderWatcher: single changes", () => {
  test("create reports an upsert of a file", async () => {
    watcher = await startWatcher(root, log);
    writeFileSync(p("a.txt"), "hello");
    const e = await log.event("a.txt", "upsert");
    expect(e.isDir).toBe(false);
    expect(log.errors).toEqual([]);
  });

  test("a file's upsert carries the lstat taken when it settled; a directory's and a symlink's do not", async () => {
    watcher = await startWatcher(root, log);
    writeFileSync(p("s.txt"), "12345");
    chmodSync(p("s.txt"), 0o640);
    const e = await log.event("s.txt", "upsert");
    const st = statSync(p("s.txt"));
    expect(e.fileStat).toEqual({ ino: st.ino, size: 5, mtimeMs: st.mtimeMs, mode: st.mode });
    expect(st.mode & 0o7777).toBe(0o640);
    mkdirSync(p("sd"));
    expect((await log.event("sd", "upsert")).fileStat).toBeUndefined();
    symlinkSync("s.txt", p("link"));
    expect((await log.event("link", "upsert")).fileStat).toBeUndefined();
  });

  test("modify and append of an existing file report upserts", async () => {
    writeFileSync(p("a.txt"), "v1");
    watcher = await startWatcher(root, log);
    writeFileSync(p("a.txt"), "v2");
    await log.event("a.txt", "upsert");
    const from = log.events.length;
    appendFileSync(p("a.txt"), "+more");
    await log.event("a.txt", "upsert", from);
  });

  test("delete reports a remove", async () => {
    writeFileSync(p("a.txt"), "x");
    watcher = await startWatcher(root, log);
    unlinkSync(p("a.txt"));
    const e = await log.event("a.txt", "remove");
    expect(e.isDir).toBe(false);
  });

  test("mkdir and rmdir are reported with isDir", async () => {
    watcher = await startWatcher(root, log);
    mkdirSync(p("d"));
    expect((await log.event("d", "upsert")).isDir).toBe(true);
    const from = log.events.length;
    rmdirSync(p("d"));
    expect((await log.event("d", "remove", from)).isDir).toBe(true);
  });

  test("a file created inside a new nested subdirectory is reported, and later writes there too", async () => {
    watcher = await startWatcher(root, log);
    mkdirSync(p("x/y"), { recursive: true });
    writeFileSync(p("x/y/z.txt"), "deep");
    expect((await log.event("x", "upsert")).isDir).toBe(true);
    expect((await log.event("x/y", "upsert")).isDir).toBe(true);
    expect((await log.event("x/y/z.txt", "upsert")).isDir).toBe(false);
    const from = log.events.length;
    writeFileSync(p("x/y/later.txt"), "later");
    await log.event("x/y/later.txt", "upsert", from);
  });

  test("many files written right after mkdir of a new directory are all reported", async () => {
    watcher = await startWatcher(root, log);
    mkdirSync(p("fresh"));
    const names = Array.from({ length: 50 }, (_, i) => `fresh/f${i}.txt`);
    for (const n of names) writeFileSync(p(n), n);
    await log.until(() => names.every((n) => log.of(n, "upsert").length > 0), "all files in fresh/");
  });

  test("a new directory is swept: files chokidar never reported inside it are found (at once and once more later)", async () => {
    // chokidar reads a new directory before it watches it; simulate it missing everything inside.
    let fake: EventEmitter | undefined;
    const createBackend = (): WatchBackend => {
      const emitter = new EventEmitter();
      fake = emitter;
      queueMicrotask(() => emitter.emit("ready"));
      return Object.assign(emitter, { close: async () => {} });
    };
    // A wide gap before the second sweep, so b.txt is surely written before it even on a loaded machine.
    watcher = await startWatcher(root, log, { createBackend, maxSettleMs: 2000 });
    mkdirSync(p("fresh/deeper"), { recursive: true });
    writeFileSync(p("fresh/deeper/a.txt"), "a");
    fake!.emit("all", "addDir", p("fresh"));
    await log.event("fresh/deeper/a.txt", "upsert");
    expect(log.of("fresh/deeper", "upsert")[0]!.isDir).toBe(true);
    // created after the first sweep, still with no event: the second sweep (maxSettleMs later) finds it
    writeFileSync(p("fresh/deeper/b.txt"), "b");
    await log.event("fresh/deeper/b.txt", "upsert");
  });

  test("a symlink is reported as a non-directory entry and not followed", async () => {
    mkdirSync(p("real"));
    watcher = await startWatcher(root, log);
    symlinkSync(p("real"), p("link"));
    expect((await log.event("link", "upsert")).isDir).toBe(false);
  });
  test("chokidar watches directories only; writes, chmods and new files still reach onEvents", async () => {
    mkdirSync(p("sub"));
    writeFileSync(p("a.txt"), "a");
    writeFileSync(p("sub/b.txt"), "b");
    let real: ReturnType<typeof watch> | undefined;
    const createBackend = (dir: string, options: Parameters<typeof watch>[1]): WatchBackend => {
      real = watch(dir, options);
      return real as unknown as WatchBackend;
    };
    watcher = await startWatcher(root, log, { createBackend });
    appendFileSync(p("a.txt"), "more");
    await log.event("a.txt", "upsert");
    chmodSync(p("sub/b.txt"), 0o600);
    await log.event("sub/b.txt", "upsert");
    mkdirSync(p("sub/new"));
    writeFileSync(p("sub/new/c.txt"), "c");
    await log.event("sub/new/c.txt", "upsert");
    await log.until(() => Object.keys(real!.getWatched()).some((d) => d.endsWith("new")), "sub/new watched");
    // No file anywhere is one of chokidar's watched entries: only the directories are.
    const entries = Object.entries(real!.getWatched()).flatMap(([d, names]) => names.map((n) => join(d, n)));
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(statSync(e).isDirectory()).toBe(true);
  });

  test("chokidar re-reads a directory at once when a subdirectory appears or goes there, not for files", async () => {
    mkdirSync(p("sub"));
    let backend: ReturnType<typeof chokidarBackend> | undefined;
    // Lazy reads never come within the test: chokidar learns of subdirectories only by expedited reads.
    const pacing = { ...DEFAULT_READ_PACING, lazyDelayMs: 600_000 };
    const reads: string[] = [];
    watcher = await startWatcher(root, log, {
      createBackend: (dir, options) => {
        backend = chokidarBackend(dir, options, pacing);
        // Every directory read of chokidar's, however it was started, lists the directory through this.
        const fsw = backend.chokidar as unknown as { _readdirp: (d: string, ...rest: unknown[]) => unknown };
        const readdirp = fsw._readdirp;
        fsw._readdirp = function (this: unknown, d: string, ...rest: unknown[]) {
          reads.push(d);
          return readdirp.call(this, d, ...rest);
        };
        return backend;
      },
    });
    const watched = () => Object.keys(backend!.chokidar.getWatched());
    const readsOfSub = () => reads.filter((d) => d === p("sub")).length;
    const before = readsOfSub();
    for (let i = 0; i < 20; i++) writeFileSync(p(`sub/f${i}.txt`), "x");
    await log.event("sub/f19.txt", "upsert");
    mkdirSync(p("sub/new"));
    await log.until(() => watched().includes(p("sub/new")), "sub/new watched");
    expect(readsOfSub()).toBe(before + 1); // the files asked for no read; the directory did
    // Written after chokidar watches it: reported from the new directory's own events.
    writeFileSync(p("sub/new/c.txt"), "c");
    await log.event("sub/new/c.txt", "upsert");
    // Removed: chokidar forgets it, so the name made again is watched afresh (not a dead watch).
    rmSync(p("sub/new"), { recursive: true });
    await log.event("sub/new", "remove");
    await log.until(() => !watched().includes(p("sub/new")), "sub/new forgotten");
    mkdirSync(p("sub/new"));
    await log.until(() => watched().includes(p("sub/new")), "sub/new watched again");
    const from = log.events.length;
    writeFileSync(p("sub/new/d.txt"), "d");
    await log.event("sub/new/d.txt", "upsert", from);
  });
});

describe("FolderWatcher: renames and editor saves", () => {
  test("rename reports both names; a move into a subdirectory too", async () => {
    writeFileSync(p("a.txt"), "x");
    mkdirSync(p("sub"));
    watcher = await startWatcher(root, log);
    renameSync(p("a.txt"), p("b.txt"));
    await log.event("a.txt", "remove");
    await log.event("b.txt", "upsert");
    const from = log.events.length;
    renameSync(p("b.txt"), p("sub/b.txt"));
    await log.event("b.txt", "remove", from);
    await log.event("sub/b.txt", "upsert", from);
  });

  test("renaming a directory reports the old name removed and the new one with its contents", async () => {
    mkdirSync(p("d1/inner"), { recursive: true });
    writeFileSync(p("d1/inner/f.txt"), "x");
    watcher = await startWatcher(root, log);
    renameSync(p("d1"), p("d2"));
    expect((await log.event("d1", "remove")).isDir).toBe(true);
    expect((await log.event("d2", "upsert")).isDir).toBe(true);
    await log.event("d2/inner/f.txt", "upsert");
    // the renamed directory is watched under its new name
    const from = log.events.length;
    writeFileSync(p("d2/inner/g.txt"), "y");
    await log.event("d2/inner/g.txt", "upsert", from);
  });

  test("vim-style save (swap file, temp file renamed over the target) ends with an upsert of the target only", async () => {
    writeFileSync(p("a.txt"), "old");
    watcher = await startWatcher(root, log);
    writeFileSync(p(".a.txt.swp"), "swap");
    writeFileSync(p("4913"), ""); // vim's "can I create files here" probe
    unlinkSync(p("4913"));
    writeFileSync(p("a.txt.tmp"), "new content");
    renameSync(p("a.txt.tmp"), p("a.txt"));
    unlinkSync(p(".a.txt.swp"));
    await log.event("a.txt", "upsert");
    await barrier(root, log);
    const last = log.of("a.txt").at(-1)!;
    expect(last.kind).toBe("upsert");
    expect(readFileSync(p("a.txt"), "utf8")).toBe("new content");
    const noise = log.events.filter((e) => [".a.txt.swp", "4913", "a.txt.tmp"].includes(e.path));
    expect(noise).toEqual([]);
  });

  test("vim backup-style save (rename away, write new, delete backup) ends with an upsert of the target", async () => {
    writeFileSync(p("b.txt"), "old");
    watcher = await startWatcher(root, log);
    renameSync(p("b.txt"), p("b.txt~"));
    writeFileSync(p("b.txt"), "new");
    unlinkSync(p("b.txt~"));
    await log.event("b.txt", "upsert");
    await barrier(root, log);
    expect(log.of("b.txt").at(-1)!.kind).toBe("upsert");
    expect(log.of("b.txt~")).toEqual([]);
  });

  test("delete then recreate (at once, and after the delete was reported) ends with an upsert", async () => {
    writeFileSync(p("a.txt"), "one");
    writeFileSync(p("b.txt"), "one");
    watcher = await startWatcher(root, log);
    unlinkSync(p("a.txt"));
    writeFileSync(p("a.txt"), "two");
    await log.event("a.txt", "upsert");
    unlinkSync(p("b.txt"));
    await log.event("b.txt", "remove");
    const from = log.events.length;
    writeFileSync(p("b.txt"), "two");
    await log.event("b.txt", "upsert", from);
    await barrier(root, log);
    expect(log.of("a.txt").at(-1)!.kind).toBe("upsert");
    expect(log.of("b.txt").at(-1)!.kind).toBe("upsert");
  });
});

describe("FolderWatcher: bursts and slow writers", () => {
  test("a burst of 1,000 new files reports every path at least once", async () => {
    watcher = await startWatcher(root, log);
    const names = Array.from({ length: 1000 }, (_, i) => `burst-${i}.txt`);
    for (const n of names) writeFileSync(p(n), n);
    await log.until(() => {
      const seen = new Set(log.events.filter((e) => e.kind === "upsert").map((e) => e.path));
      return names.every((n) => seen.has(n));
    }, "1000 upserts");
    console.log(`burst: 1000 files -> ${log.events.length} events in ${log.batches} batches`);
  });

  test("a slow writer (10 parts, 5 ms apart) is reported after the last part, a few times at most", async () => {
    // The consumer stats the path when told, as the LocalScanner does.
    const sizesSeen: number[] = [];
    watcher = await startWatcher(root, log, {
      onEvents: (events) => {
        for (const e of events) {
          if (e.path === "slow.bin" && e.kind === "upsert") sizesSeen.push(statSync(p("slow.bin")).size);
        }
        log.onEvents(events);
      },
    });
    const fh = await open(p("slow.bin"), "w");
    const part = Buffer.alloc(1000, 7);
    for (let i = 0; i < 10; i++) {
      await fh.write(part);
      await Bun.sleep(5); // the writer's pace (the thing under test), not synchronisation
    }
    await fh.close();
    await log.until(() => sizesSeen.at(-1) === 10_000, "an upsert of slow.bin seen after the last part");
    await barrier(root, log);
    console.log(`slow writer: ${sizesSeen.length} report(s) for 10 parts, sizes seen ${sizesSeen.join(",")}`);
    expect(sizesSeen.length).toBeLessThanOrEqual(5);
    expect(sizesSeen.at(-1)).toBe(10_000);
  });
});

describe("FolderWatcher: ignore rules", () => {
  test("ignored paths are never reported; negations and .pickboxignore itself are", async () => {
    writeFileSync(p(".pickboxignore"), "node_modules/\n*.log\n!keep.log\n");
    mkdirSync(p(".pickbox"));
    mkdirSync(p("node_modules/pkg"), { recursive: true });
    watcher = await startWatcher(root, log);
    writeFileSync(p(".pickbox/x"), "state");
    writeFileSync(p("a.swp"), "swap");
    writeFileSync(p("notes.txt~"), "backup");
    writeFileSync(p("node_modules/pkg/index.js"), "js");
    writeFileSync(p("debug.log"), "log");
    writeFileSync(p("keep.log"), "kept");
    writeFileSync(p("ok.txt"), "ok");
    await log.event("keep.log", "upsert");
    await log.event("ok.txt", "upsert");
    await barrier(root, log);
    const leaked = log.events.filter((e) =>
      [
        ".pickbox",
        ".pickbox/x",
        "a.swp",
        "notes.txt~",
        "node_modules",
        "node_modules/pkg/index.js",
        "debug.log",
      ].includes(e.path),
    );
    expect(leaked).toEqual([]);
    expect(log.reconciles[0]).not.toContain("node_modules");
    expect(log.reconciles[0]).toContain(".pickboxignore");
  });

  test("editing .pickboxignore reloads the rules: newly ignored stays quiet, un-ignored becomes visible", async () => {
    writeFileSync(p(".pickboxignore"), "vendor/\n");
    mkdirSync(p("vendor"));
    writeFileSync(p("vendor/lib.js"), "v1");
    mkdirSync(p("secret"));
    watcher = await startWatcher(root, log);
    expect(log.reconciles[0]).not.toContain("vendor/lib.js");

    writeFileSync(p(".pickboxignore"), "secret/\n");
    await log.event(".pickboxignore", "upsert");
    // the rules change triggers a walk that now lists vendor/
    await log.until(
      () => log.reconciles.some((r) => r.includes("vendor/lib.js")),
      "a reconcile listing vendor/",
    );
    const from = log.events.length;
    writeFileSync(p("secret/key.pem"), "k");
    writeFileSync(p("vendor/lib.js"), "v2");
    await log.event("vendor/lib.js", "upsert", from);
    await barrier(root, log);
    expect(log.events.filter((e) => e.path.startsWith("secret"))).toEqual([]);
  });
});

describe("FolderWatcher: reconcile, errors, lifecycle", () => {
  test("reconcileNow finds files created while the watcher was closed", async () => {
    writeFileSync(p("before.txt"), "x");
    const first = await startWatcher(root, log);
    expect(log.reconciles[0]).toEqual(["before.txt"]);
    await first.close();
    mkdirSync(p("offline"));
    writeFileSync(p("offline/while-closed.txt"), "y");
    const log2 = new WatchLog();
    watcher = await startWatcher(root, log2);
    expect([...log2.reconciles[0]!].sort()).toEqual(["before.txt", "offline", "offline/while-closed.txt"]);
    writeFileSync(p("offline/more.txt"), "z");
    const paths = await watcher.reconcileNow();
    expect(paths.sort()).toEqual(["before.txt", "offline", "offline/more.txt", "offline/while-closed.txt"]);
    expect(log2.reconciles).toHaveLength(2);
    // Beside the paths, in the same order, what the walk's lstat saw of each.
    const entries = log2.reconciledEntries[1]!;
    expect(entries.map((e) => e.path)).toEqual(log2.reconciles[1]!);
    const more = entries.find((e) => e.path === "offline/more.txt")!;
    const st = statSync(p("offline/more.txt"));
    expect(more).toEqual({
      path: "offline/more.txt",
      isDir: false,
      size: 1,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
      mode: st.mode,
    });
    expect(entries.find((e) => e.path === "offline")?.isDir).toBe(true);
    expect(log.reconciles).toHaveLength(1); // the closed watcher stays silent
  });

  test("concurrent reconcileNow calls each get a walk that started after the call", async () => {
    watcher = await startWatcher(root, log);
    const a = watcher.reconcileNow();
    writeFileSync(p("late.txt"), "x");
    const b = watcher.reconcileNow();
    const c = watcher.reconcileNow();
    const [, rb, rc] = await Promise.all([a, b, c]);
    expect(rb).toContain("late.txt");
    expect(rc).toContain("late.txt");
  });

  test("periodic reconcile runs on its own", async () => {
    watcher = await startWatcher(root, log, { reconcileIntervalMs: 20 });
    writeFileSync(p("x.txt"), "x");
    await log.until(
      () => log.reconciles.some((r) => r.includes("x.txt")),
      "a periodic reconcile listing x.txt",
    );
  });

  test("deleting the watched folder reports onError and withholds the removes", async () => {
    writeFileSync(p("a.txt"), "x");
    watcher = await startWatcher(root, log);
    rmSync(root, { recursive: true, force: true });
    await log.until(
      () => log.errors.some((e) => e instanceof WatchRootMissingError),
      "WatchRootMissingError",
    );
    await expect(watcher.reconcileNow()).rejects.toBeInstanceOf(WatchRootMissingError);
    // reported once, not once per event
    expect(log.errors.filter((e) => e instanceof WatchRootMissingError)).toHaveLength(1);
  });

  test("after the folder comes back, reconcileNow lists it and watching resumes", async () => {
    watcher = await startWatcher(root, log);
    rmSync(root, { recursive: true, force: true });
    await log.until(
      () => log.errors.some((e) => e instanceof WatchRootMissingError),
      "WatchRootMissingError",
    );
    mkdirSync(root);
    writeFileSync(p("back.txt"), "x");
    expect(await watcher.reconcileNow()).toEqual(["back.txt"]);
    writeFileSync(p("live.txt"), "y");
    await log.event("live.txt", "upsert");
  });

  test.each([
    ["withheld when the folder itself is gone", true],
    ["reported while the folder exists", false],
  ])("a settled remove is %s", async (_label, deleteRoot) => {
    writeFileSync(p("a.txt"), "x");
    const timers = new ManualTimers();
    let fake: EventEmitter | undefined;
    const createBackend = (): WatchBackend => {
      const emitter = new EventEmitter();
      fake = emitter;
      queueMicrotask(() => emitter.emit("ready"));
      return Object.assign(emitter, { close: async () => {} });
    };
    watcher = await startWatcher(root, log, { createBackend, timers });
    if (deleteRoot) rmSync(root, { recursive: true, force: true });
    else unlinkSync(p("a.txt"));
    fake!.emit("all", "unlink", p("a.txt"));
    timers.advance(15);
    if (deleteRoot) {
      // The error comes from the very batch that held the remove: once it is here, that batch is decided.
      await log.until(() => log.errors.length > 0, "the root-missing error");
      expect(log.errors[0]).toBeInstanceOf(WatchRootMissingError);
      expect(log.events).toEqual([]);
    } else {
      expect((await log.event("a.txt", "remove")).isDir).toBe(false);
      expect(log.errors).toEqual([]);
    }
  });

  test("a watch-limit error (ENOSPC) goes to onError and the periodic reconcile keeps finding changes", async () => {
    let fake: EventEmitter | undefined;
    const createBackend = (): WatchBackend => {
      const emitter = new EventEmitter();
      fake = emitter;
      queueMicrotask(() => emitter.emit("ready"));
      return Object.assign(emitter, { close: async () => {} });
    };
    watcher = await startWatcher(root, log, { createBackend, reconcileIntervalMs: 20 });
    const enospc = Object.assign(new Error("watch /x ENOSPC"), { code: "ENOSPC" });
    fake!.emit("error", enospc);
    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]!.message).toContain("ENOSPC");
    writeFileSync(p("unwatched.txt"), "x");
    await log.until(() => log.reconciles.some((r) => r.includes("unwatched.txt")), "reconcile after ENOSPC");
  });

  test("a throwing consumer is reported through onError and does not stop the watcher", async () => {
    let calls = 0;
    watcher = await startWatcher(root, log, {
      onEvents: (events) => {
        calls++;
        log.onEvents(events);
        if (calls === 1) throw new Error("consumer bug");
      },
    });
    writeFileSync(p("one.txt"), "1");
    await log.event("one.txt", "upsert");
    await log.until(() => log.errors.some((e) => e.message === "consumer bug"), "consumer error");
    writeFileSync(p("two.txt"), "2");
    await log.event("two.txt", "upsert");
  });

  test("close resolves promptly and nothing is reported afterwards", async () => {
    const closing = await startWatcher(root, log, { settleMs: 5, maxSettleMs: 5 });
    writeFileSync(p("pending.txt"), "x"); // may be mid-settle when close() runs
    const t0 = performance.now();
    await closing.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    await expect(closing.reconcileNow()).rejects.toThrow("closed");
    // A second watcher with a longer settle time is the barrier: the closed one would have reported first.
    const log2 = new WatchLog();
    watcher = await startWatcher(root, log2, { settleMs: 50 });
    const before = log.events.length;
    writeFileSync(p("after-close.txt"), "y");
    await log2.event("after-close.txt", "upsert");
    expect(log.events.length).toBe(before);
    expect(log.events.some((e) => e.path === "after-close.txt")).toBe(false);
  });

  test("after close() nothing holds the process open: a child that closes its watcher exits by itself", async () => {
    const script = join(import.meta.dir, "fixtures/start-write-close.ts");
    const child = Bun.spawn([process.execPath, script, root], { stdout: "pipe", stderr: "pipe" });
    const deadline = setTimeout(() => child.kill(), 15_000);
    const code = await child.exited;
    clearTimeout(deadline);
    const out = await new Response(child.stdout).text();
    const err = await new Response(child.stderr).text();
    expect({ code, out: out.trim(), err }).toEqual({ code: 0, out: "closed", err: "" });
  });

  test("start rejects for a root that does not exist", async () => {
    const w = new FolderWatcher({ root: join(root, "missing"), onEvents: () => {} });
    await expect(w.start()).rejects.toMatchObject({ code: "ENOENT" });
  });
});
