import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChunkHashMismatchError, ChunkStore, type ChunkStoreOptions } from "../../src/store/chunk-store.ts";
import { type Chunk, sha256Hex } from "../../src/store/chunker.ts";
import { alignedBuffer } from "../../src/store/direct-io.ts";

let dir: string;
let db: Database;
const stores: ChunkStore[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-chunks-"));
  db = new Database(path.join(dir, "state.db"));
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const chunksDir = () => path.join(dir, "chunks");
/** Every test runs with direct I/O (the default) and with ordinary buffered I/O. */
let directIo = true;
function open(opts: Partial<ChunkStoreOptions> = {}): ChunkStore {
  const s = new ChunkStore(chunksDir(), { db, directIo, ...opts });
  stores.push(s);
  return s;
}

function chunk(text: string): Chunk {
  const data = new TextEncoder().encode(text);
  return { hash: sha256Hex(data), data };
}

/** A chunk above the small-chunk size: it goes to a pack file. */
function large(seed: number, size = 40_000): Chunk {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + seed * 7919) & 0xff;
  return { hash: sha256Hex(data), data };
}

const span = (r: { chunks: number; bytes: number }) => ({ chunks: r.chunks, bytes: r.bytes });

const packFiles = () => readdirSync(path.join(chunksDir(), "packs")).sort();
const packBytes = () =>
  packFiles().reduce((n, f) => n + statSync(path.join(chunksDir(), "packs", f)).size, 0);

/** A controllable clock: the store's only notion of time. */
function clock(start: number) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const T0 = Date.UTC(2024, 0, 1);

for (const direct of [true, false])
  describe(`ChunkStore (${direct ? "direct" : "buffered"} I/O)`, () => {
    beforeEach(() => {
      directIo = direct;
    });

    test("small chunks become rows and large ones pack bytes; both read back, also after reopen", async () => {
      const store = open();
      const s = chunk("small file content");
      const b = large(1);
      await store.putMany([s, b]);
      expect(store.locationOf(s.hash)).toBeNull(); // a row
      const loc = store.locationOf(b.hash)!;
      expect(loc.length).toBe(b.data.length);
      expect(packBytes()).toBe(b.data.length);
      expect(store.sizeOf(s.hash)).toBe(s.data.length);
      expect(store.stats()).toEqual({ chunks: 2, bytes: s.data.length + b.data.length });
      const again = open();
      expect(await again.get(s.hash)).toEqual(s.data);
      expect(await again.get(b.hash)).toEqual(b.data);
      expect(again.stats()).toEqual(store.stats());
    });

    test("a chunk whose bytes do not match its hash is refused and nothing is stored", async () => {
      const store = open();
      const good = large(2);
      const bad = { hash: good.hash, data: large(3).data };
      await expect(store.putMany([chunk("ok"), bad])).rejects.toBeInstanceOf(ChunkHashMismatchError);
      expect(store.stats()).toEqual({ chunks: 0, bytes: 0 });
      expect(packBytes()).toBe(0);
    });

    test("hashes that are not 64 lowercase hex digits are refused", async () => {
      const store = open();
      const data = new Uint8Array([1]);
      for (const hash of ["../../etc/passwd", sha256Hex(data).toUpperCase(), "ab", ""]) {
        await expect(store.putMany([{ hash, data }])).rejects.toBeInstanceOf(ChunkHashMismatchError);
        expect(store.has(hash)).toBe(false);
        expect(await store.get(hash)).toBeNull();
      }
    });

    test("dedup: the same content is stored once, within a batch and across batches", async () => {
      const store = open();
      const a = large(4);
      await store.putMany([a, a, { hash: a.hash, data: a.data.slice() }]);
      await store.putMany([a]);
      expect(store.stats()).toEqual({ chunks: 1, bytes: a.data.length });
      expect(packBytes()).toBe(a.data.length);
    });

    test("concurrent putMany calls of overlapping chunks all resolve with every chunk stored once", async () => {
      const store = open();
      const chunks = Array.from({ length: 40 }, (_, i) => (i % 2 ? large(i) : chunk(`c${i}`)));
      await Promise.all([
        store.putMany(chunks.slice(0, 30)),
        store.putMany(chunks.slice(10), { durable: false }),
        store.putMany(chunks),
      ]);
      for (const c of chunks) expect(await store.get(c.hash)).toEqual(c.data);
      expect(store.stats().chunks).toBe(40);
      expect(packBytes()).toBe(chunks.filter((_, i) => i % 2).reduce((n, c) => n + c.data.length, 0));
    });

    test("a deferred (durable: false) put is readable at once and stored after sync() and reopen", async () => {
      const store = open();
      const a = large(5);
      const s = chunk("deferred row");
      await store.putMany([a, s], { durable: false });
      expect(store.has(a.hash) && store.has(s.hash)).toBe(true);
      expect(await store.get(a.hash)).toEqual(a.data);
      await store.sync();
      await store.putMany([a]); // durable put of a chunk that is already there: only touched
      const again = open();
      expect(await again.get(a.hash)).toEqual(a.data);
      expect(await again.get(s.hash)).toEqual(s.data);
    });

    test("a store opened on the database knows every chunk stored before, from memory alone", async () => {
      const first = open();
      const a = large(6);
      const b = chunk("stored row");
      await first.putMany([a, b]);
      for (const x of stores.splice(0)) x.close();
      const again = open();
      // has() answers from the maps loaded at open: with the rows' queries gone, only memory can say yes.
      db.run("DELETE FROM cs_small");
      db.run("DELETE FROM cs_packed");
      expect(again.has(a.hash) && again.has(b.hash)).toBe(true);
      expect(again.stats().chunks).toBe(2);
      expect(again.has(chunk("never stored").hash)).toBe(false);
    });

    test("corrupt pack bytes or a corrupt row: reported missing and dropped, so they are fetched again", async () => {
      const first = open();
      const a = large(7);
      const s = chunk("will rot");
      await first.putMany([a, s]);
      const loc = first.locationOf(a.hash)!;
      // Rot (or a write torn by a power cut) found after a restart: packed bytes this process wrote itself
      // after checking their hash are trusted until then.
      for (const x of stores.splice(0)) x.close();
      const fd = openSync(loc.file, "r+");
      writeSync(fd, new TextEncoder().encode("bit rot!"), 0, 8, loc.offset + 100);
      closeSync(fd);
      db.run("UPDATE cs_small SET data = ? WHERE hash = ?", [new TextEncoder().encode("rotten"), s.hash]);
      const store = open();
      expect(await store.get(a.hash)).toBeNull();
      expect(await store.get(s.hash)).toBeNull();
      expect(store.has(a.hash) || store.has(s.hash)).toBe(false);
      await store.putMany([a, s]);
      expect(await store.get(a.hash)).toEqual(a.data);
      expect(await store.get(s.hash)).toEqual(s.data);
    });

    test("non-durable appends start a background fdatasync every 8 MiB; sync() still syncs what came after", async () => {
      const pending: (() => void)[] = []; // fdatasyncs started and not yet finished
      let startedOne: (() => void) | null = null;
      const store = open({
        fdatasync: (_fd, done) => {
          pending.push(() => done(null));
          startedOne?.();
        },
      });
      /** Resolves once `n` fdatasyncs have started and not finished (a sync starts after its flush). */
      const started = async (n: number) => {
        while (pending.length < n) await new Promise<void>((r) => (startedOne = r));
      };
      const chunks = Array.from({ length: 40 }, (_, i) => large(100 + i, 250_000)); // 10 MB in all
      await store.putMany(chunks.slice(0, 30), { durable: false }); // 7.5 MB: not yet
      expect(pending.length).toBe(0);
      await store.putMany(chunks.slice(30, 34), { durable: false }); // past 8 MiB: one starts
      await started(1);
      expect(pending.length).toBe(1);
      await store.putMany(chunks.slice(34), { durable: false }); // one is in flight: no second yet
      expect(pending.length).toBe(1);
      // The pack was appended to after the background sync began: sync() must start its own.
      let synced = false;
      const s = store.sync().then(() => {
        synced = true;
      });
      await started(2);
      expect(pending.length).toBe(2);
      pending.shift()!();
      await Promise.resolve();
      expect(synced).toBe(false);
      pending.shift()!();
      await s;
      expect(synced).toBe(true);
      for (const c of chunks) expect(await store.get(c.hash)).toEqual(c.data);
    });

    describe("readRun", () => {
      test("reads chunks packed back to back with one read, stopping where the next one is elsewhere or does not fit", async () => {
        const store = open();
        const [a, b, c, d] = [large(1), large(2), large(3), large(4)];
        await store.putMany([a, b, c]);
        await store.putMany([d, chunk("small row")]);
        const buf = alignedBuffer(200_000);
        const order = [a.hash, b.hash, c.hash, d.hash];
        // d was appended right after c, so all four are one run.
        const all = store.readRun(order, 0, buf);
        expect(span(all)).toEqual({ chunks: 4, bytes: 160_000 });
        const joined = Buffer.concat([a.data, b.data, c.data, d.data]);
        expect(Buffer.from(all.data).equals(joined)).toBe(true);
        // Out of pack order: the run ends where the next chunk is not right after the previous one.
        const one = store.readRun([b.hash, a.hash, c.hash], 0, buf);
        expect(span(one)).toEqual({ chunks: 1, bytes: 40_000 });
        expect(Buffer.from(one.data).equals(Buffer.from(b.data))).toBe(true);
        expect(span(store.readRun(order, 2, buf))).toEqual({ chunks: 2, bytes: 80_000 });
        // A buffer holds only whole chunks.
        expect(span(store.readRun(order, 0, new Uint8Array(100_000)))).toEqual({ chunks: 2, bytes: 80_000 });
        expect(span(store.readRun(order, 0, new Uint8Array(39_999)))).toEqual({ chunks: 0, bytes: 0 });
        // Rows, missing chunks and the end of the list: nothing to read as a run.
        expect(store.readRun([chunk("small row").hash], 0, buf).chunks).toBe(0);
        expect(store.readRun([large(9).hash], 0, buf).chunks).toBe(0);
        expect(store.readRun(order, 4, buf).chunks).toBe(0);
      });

      test("after a restart each chunk of a run is checked: the run stops before a rotten one", async () => {
        const first = open();
        const [a, b, c] = [large(11), large(12), large(13)];
        await first.putMany([a, b, c]);
        const loc = first.locationOf(b.hash)!;
        for (const x of stores.splice(0)) x.close();
        const fd = openSync(loc.file, "r+");
        writeSync(fd, new TextEncoder().encode("bit rot!"), 0, 8, loc.offset + 5);
        closeSync(fd);
        const store = open();
        const buf = alignedBuffer(200_000);
        expect(span(store.readRun([a.hash, b.hash, c.hash], 0, buf))).toEqual({ chunks: 1, bytes: 40_000 });
        expect(store.readRun([b.hash, c.hash], 0, buf).chunks).toBe(0);
        expect(await store.get(b.hash)).toBeNull(); // get() then drops it, so it is fetched again
        expect(span(store.readRun([c.hash], 0, buf))).toEqual({ chunks: 1, bytes: 40_000 });
      });
    });

    test("a pack file gone missing makes its chunks missing, not an error", async () => {
      const a = large(8);
      await open().putMany([a]);
      for (const s of stores.splice(0)) s.close();
      for (const f of packFiles()) rmSync(path.join(chunksDir(), "packs", f));
      const again = open();
      expect(again.has(a.hash)).toBe(false);
      expect(await again.get(a.hash)).toBeNull();
      await again.putMany([a]);
      expect(await again.get(a.hash)).toEqual(a.data);
    });

    test("delete removes the chunk and its stats; deleting a missing chunk is fine", async () => {
      const store = open();
      const a = large(9);
      const s = chunk("bye");
      await store.putMany([a, s]);
      await store.delete(a.hash);
      await store.delete(s.hash);
      expect(store.has(a.hash) || store.has(s.hash)).toBe(false);
      expect(store.stats()).toEqual({ chunks: 0, bytes: 0 });
      expect(open().stats()).toEqual({ chunks: 0, bytes: 0 });
      await store.delete(a.hash);
    });

    test("a full pack is closed and appends go to the next one", async () => {
      const store = open({ packBytes: 100_000 });
      const cs = [large(10), large(11), large(12), large(13)];
      await store.putMany(cs);
      expect(packFiles()).toEqual(["p-0.pack", "p-1.pack"]);
      for (const c of cs) expect(await open({ packBytes: 100_000 }).get(c.hash)).toEqual(c.data);
    });

    test("many packs: at most a bounded number stay open, every chunk still reads back", async () => {
      const fds = () => readdirSync("/proc/self/fd").length;
      const before = fds();
      const store = open({ packBytes: 50_000 });
      const cs = Array.from({ length: 80 }, (_, i) => large(100 + i));
      await store.putMany(cs);
      expect(packFiles().length).toBe(80);
      for (const c of cs) expect(await store.get(c.hash)).toEqual(c.data);
      expect(fds() - before).toBeLessThanOrEqual(64 + 2);
      const again = open({ packBytes: 50_000 });
      for (const c of cs) expect(await again.get(c.hash)).toEqual(c.data);
      expect(fds() - before).toBeLessThanOrEqual(2 * (64 + 2));
    });

    test("chunk files of the old one-file-per-chunk layout are moved in at open, once", async () => {
      const a = large(14);
      const s = chunk("old small");
      for (const c of [a, s]) {
        mkdirSync(path.join(chunksDir(), c.hash.slice(0, 2)), { recursive: true });
        writeFileSync(path.join(chunksDir(), c.hash.slice(0, 2), c.hash), c.data);
      }
      const store = open();
      expect(await store.get(a.hash)).toEqual(a.data);
      expect(await store.get(s.hash)).toEqual(s.data);
      expect(readdirSync(chunksDir()).sort()).toEqual(["packs"]);
      expect(open().stats().chunks).toBe(2);
    });

    describe("gc", () => {
      test("removes only unreferenced chunks, and only once they are old enough", async () => {
        const t = clock(T0);
        const store = open({ now: t.now });
        const keep = large(20);
        const old = chunk("old garbage");
        await store.putMany([keep, old]);
        t.advance(60_000);
        const young = large(21);
        await store.putMany([young]);
        const refs = new Set([keep.hash]);
        t.advance(1);
        expect(await store.gc((h) => refs.has(h), 30_000)).toEqual({ removed: 1, bytes: old.data.length });
        expect(store.has(old.hash)).toBe(false);
        expect(store.has(young.hash) && store.has(keep.hash)).toBe(true);
        t.advance(30_000);
        expect(await store.gc((h) => refs.has(h), 30_000)).toEqual({ removed: 1, bytes: young.data.length });
        expect(store.stats()).toEqual({ chunks: 1, bytes: keep.data.length });
        expect(await store.get(keep.hash)).toEqual(keep.data);
      });

      test("re-putting an existing chunk restarts its age", async () => {
        const t = clock(T0);
        const store = open({ now: t.now });
        const a = large(22);
        await store.putMany([a]);
        t.advance(3_600_000);
        await store.putMany([a]); // dedup hit: a proposal in flight uses it again
        t.advance(1000);
        expect(await store.gc(() => false, 60_000)).toEqual({ removed: 0, bytes: 0 });
        t.advance(60_000);
        expect((await store.gc(() => false, 60_000)).removed).toBe(1);
      });

      test("the default minimum age protects fresh chunks; minAge 0 collects everything unreferenced", async () => {
        const store = open({ now: clock(T0).now });
        await store.putMany([chunk("x"), chunk("y")]);
        expect((await store.gc(() => false)).removed).toBe(0);
        expect(await store.gc(() => false, 0)).toEqual({ removed: 2, bytes: 2 });
        expect(store.stats()).toEqual({ chunks: 0, bytes: 0 });
      });

      test("ages survive a reopen", async () => {
        const t = clock(T0);
        const a = large(23);
        await open({ now: t.now }).putMany([a]);
        t.advance(10_000);
        expect((await open({ now: t.now }).gc(() => false, 20_000)).removed).toBe(0);
        t.advance(10_001);
        expect((await open({ now: t.now }).gc(() => false, 20_000)).removed).toBe(1);
      });

      test("a closed pack that became mostly garbage is rewritten and deleted; live chunks survive", async () => {
        const store = open({ packBytes: 100_000 });
        const [a, b, c, d] = [large(30, 30_000), large(31, 30_000), large(32, 30_000), large(33, 30_000)];
        await store.putMany([a, b, c, d]); // p-0: a, b, c; p-1: d
        expect(packFiles()).toEqual(["p-0.pack", "p-1.pack"]);
        const live = new Set([b.hash, c.hash, d.hash]);
        expect((await store.gc((h) => live.has(h), 0)).removed).toBe(1); // a: p-0 still 2/3 live, kept
        expect(packFiles()).toEqual(["p-0.pack", "p-1.pack"]);
        live.delete(b.hash);
        expect((await store.gc((h) => live.has(h), 0)).removed).toBe(1); // b: p-0 1/3 live, rewritten
        expect(packFiles()).toEqual(["p-1.pack"]);
        expect(store.locationOf(c.hash)!.file).toEndWith("p-1.pack");
        const again = open({ packBytes: 100_000 });
        for (const x of [c, d]) expect(await again.get(x.hash)).toEqual(x.data);
        expect(again.stats().chunks).toBe(2);
      });
    });

    test("write throughput with fsync (printed, not asserted)", async () => {
      const n = 256;
      const chunks = Array.from({ length: n }, (_, i) => large(1000 + i, 64 * 1024));
      const store = open();
      const t0 = performance.now();
      for (let i = 0; i < n; i += 32) await store.putMany(chunks.slice(i, i + 32));
      const s = (performance.now() - t0) / 1000;
      const mb = (n * 64 * 1024) / 1e6;
      console.log(`chunk store: ${(mb / s).toFixed(0)} MB/s durable writes (${n} x 64 KiB, batches of 32)`);
      expect(store.stats().chunks).toBe(n);
    });
  });

describe("ChunkStore direct I/O", () => {
  /** Whether the process holds `file` open with O_DIRECT (the octal flags /proc shows per descriptor). */
  function openedDirect(file: string): boolean {
    for (const fd of readdirSync("/proc/self/fd")) {
      let target: string;
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        continue; // (the descriptor readdir itself used, closed by now)
      }
      if (target !== file) continue;
      const flags = Number.parseInt(
        /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!,
        8,
      );
      return (flags & constants.O_DIRECT) !== 0;
    }
    throw new Error(`${file} is not open`);
  }

  test("packs are written through O_DIRECT by default; buffered when turned off", async () => {
    directIo = true;
    const a = large(31);
    const store = open();
    await store.putMany([a]);
    expect(openedDirect(store.locationOf(a.hash)!.file)).toBe(true);
    store.close();
    stores.splice(0);
    directIo = false;
    const plain = open();
    expect(await plain.get(a.hash)).toEqual(a.data); // the same pack, read without O_DIRECT
    await plain.putMany([large(32)]);
    expect(openedDirect(plain.locationOf(a.hash)!.file)).toBe(false);
  });

  test("a deferred put's bytes are in the pack when putMany returns: a store opened after a crash reads them", async () => {
    directIo = true;
    const crashed = open();
    const chunks = [large(41, 50_000), large(42, 70_001), large(43, 17_000)];
    await crashed.putMany(chunks, { durable: false });
    // crashed is never closed or synced: only what reached the file counts.
    expect(packBytes()).toBe(50_000 + 70_001 + 17_000);
    const after = open();
    for (const c of chunks) expect(await after.get(c.hash)).toEqual(c.data);
  });
});
