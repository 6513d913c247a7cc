import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChunkHashMismatchError, ChunkStore } from "../../src/store/chunk-store.ts";
import { type Chunk, sha256Hex } from "../../src/store/chunker.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-chunks-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function chunk(text: string): Chunk {
  const data = new TextEncoder().encode(text);
  return { hash: sha256Hex(data), data };
}

/** A controllable clock: the store's only notion of time. */
function clock(start: number) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const T0 = Date.UTC(2024, 0, 1);

describe("ChunkStore", () => {
  test("put, has, get round trip; files live at <dir>/<hash[0..2]>/<hash>", async () => {
    const store = new ChunkStore(dir);
    const a = chunk("alpha");
    expect(store.has(a.hash)).toBe(false);
    expect(await store.get(a.hash)).toBeNull();
    await store.putMany([a]);
    expect(store.has(a.hash)).toBe(true);
    expect(await store.get(a.hash)).toEqual(a.data);
    const file = path.join(dir, a.hash.slice(0, 2), a.hash);
    expect(readFileSync(file)).toEqual(Buffer.from(a.data));
    expect(store.stats()).toEqual({ chunks: 1, bytes: 5 });
  });

  test("a hash mismatch throws and stores nothing from the batch", async () => {
    const store = new ChunkStore(dir);
    const good = chunk("good");
    const bad = { hash: chunk("claimed").hash, data: new TextEncoder().encode("actual") };
    await expect(store.putMany([good, bad])).rejects.toBeInstanceOf(ChunkHashMismatchError);
    expect(store.has(good.hash)).toBe(false);
    expect(store.has(bad.hash)).toBe(false);
    expect(store.stats()).toEqual({ chunks: 0, bytes: 0 });
  });

  test("hashes that are not 64 lowercase hex digits are refused, never used as a path", async () => {
    const store = new ChunkStore(dir);
    const data = new Uint8Array([1]);
    for (const hash of ["../../etc/passwd", sha256Hex(data).toUpperCase(), "ab", ""]) {
      await expect(store.putMany([{ hash, data }])).rejects.toBeInstanceOf(ChunkHashMismatchError);
      expect(store.has(hash)).toBe(false);
      expect(await store.get(hash)).toBeNull();
    }
  });

  test("dedup: the same content is stored once, within a batch and across batches", async () => {
    const store = new ChunkStore(dir);
    const a = chunk("same");
    await store.putMany([a, a, { hash: a.hash, data: a.data.slice() }]);
    await store.putMany([a]);
    expect(store.stats()).toEqual({ chunks: 1, bytes: 4 });
    expect(readdirSync(path.join(dir, a.hash.slice(0, 2)))).toEqual([a.hash]);
  });

  test("concurrent putMany calls of overlapping chunks both resolve with every chunk stored", async () => {
    const store = new ChunkStore(dir);
    const chunks = Array.from({ length: 40 }, (_, i) => chunk(`c${i}`));
    await Promise.all([
      store.putMany(chunks.slice(0, 30)),
      store.putMany(chunks.slice(10), { durable: false }),
      store.putMany(chunks),
    ]);
    for (const c of chunks) expect(await store.get(c.hash)).toEqual(c.data);
    expect(store.stats().chunks).toBe(40);
  });

  test("a deferred (durable: false) put is readable at once and stored after sync() and reopen", async () => {
    const store = new ChunkStore(dir);
    const a = chunk("deferred");
    await store.putMany([a], { durable: false });
    expect(store.has(a.hash)).toBe(true);
    expect(await store.get(a.hash)).toEqual(a.data);
    await store.sync();
    await store.putMany([a]); // durable put of a chunk that is already there: only touched
    expect(await new ChunkStore(dir).get(a.hash)).toEqual(a.data);
  });

  test("reopen: chunks persist, stats are rebuilt, crash leftovers (temp files) are removed", async () => {
    const a = chunk("persist me");
    const b = chunk("and me");
    await new ChunkStore(dir).putMany([a, b]);
    const shard = path.join(dir, a.hash.slice(0, 2));
    writeFileSync(path.join(shard, `${a.hash}.tmp-123-1`), "torn write");
    writeFileSync(path.join(dir, "README"), "not a chunk"); // foreign files are ignored
    const again = new ChunkStore(dir);
    expect(again.stats()).toEqual({ chunks: 2, bytes: a.data.length + b.data.length });
    expect(await again.get(a.hash)).toEqual(a.data);
    expect(readdirSync(shard).filter((n) => n.includes(".tmp-"))).toEqual([]);
    // Nothing left behind by a normal write either.
    const all = readdirSync(dir, { recursive: true }).map(String);
    expect(all.some((n) => n.includes(".tmp-"))).toBe(false);
  });

  test("has() sees a chunk placed by another store instance on the same directory", async () => {
    const s1 = new ChunkStore(dir);
    const s2 = new ChunkStore(dir);
    const a = chunk("shared");
    await s2.putMany([a]);
    expect(s1.has(a.hash)).toBe(true);
    expect(s1.stats().chunks).toBe(1);
  });

  test("a corrupt chunk file is reported missing and removed, so it can be fetched again", async () => {
    const store = new ChunkStore(dir);
    const a = chunk("original");
    await store.putMany([a]);
    writeFileSync(store.pathOf(a.hash), "bit rot!");
    expect(await store.get(a.hash)).toBeNull();
    expect(store.has(a.hash)).toBe(false);
    await store.putMany([a]);
    expect(await store.get(a.hash)).toEqual(a.data);
  });

  test("delete removes the file and the stats; deleting a missing chunk is fine", async () => {
    const store = new ChunkStore(dir);
    const a = chunk("bye");
    await store.putMany([a]);
    await store.delete(a.hash);
    expect(store.has(a.hash)).toBe(false);
    expect(existsSync(store.pathOf(a.hash))).toBe(false);
    expect(store.stats()).toEqual({ chunks: 0, bytes: 0 });
    await store.delete(a.hash);
  });

  test("durability: putMany fsyncs each file and directory before it resolves", async () => {
    // A true power-loss test needs a VM; here we check the observable contract: on resolve the final
    // file exists with the right bytes and no temp file remains; get() from a fresh instance works.
    const store = new ChunkStore(dir);
    const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
    const c = { hash: sha256Hex(big), data: big };
    await store.putMany([c]);
    expect(statSync(store.pathOf(c.hash)).size).toBe(big.length);
    expect(await new ChunkStore(dir).get(c.hash)).toEqual(big);
  });

  test.skipIf(!Bun.which("strace"))(
    "durability, traced: tmp file fsynced, then renamed, then its directory fsynced",
    async () => {
      const script = path.join(dir, "put.ts");
      const storeDir = path.join(dir, "traced");
      const src = path.resolve(import.meta.dir, "../../src/store");
      writeFileSync(
        script,
        `import { ChunkStore } from ${JSON.stringify(`${src}/chunk-store.ts`)};
import { sha256Hex } from ${JSON.stringify(`${src}/chunker.ts`)};
const d = new Uint8Array([1, 2, 3]);
await new ChunkStore(process.argv[2]).putMany([{ hash: sha256Hex(d), data: d }]);`,
      );
      const proc = Bun.spawn(
        [
          "strace",
          "-f",
          "-qq",
          "-e",
          "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
          process.execPath,
          script,
          storeDir,
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      const [trace, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      expect(code).toBe(0);
      // strace -f splits calls that block into "<unfinished ...>" and "resumed" lines; keep the call starts.
      const calls = trace.split("\n").filter((l) => /(openat|fsync|fdatasync|rename\w*)\(/.test(l));
      const find = (re: RegExp, from = 0) => calls.findIndex((l, i) => i >= from && re.test(l));
      const openTmp = find(/openat\(.*\.tmp-.*O_CREAT/);
      const syncTmp = find(/f(data)?sync\(/, openTmp);
      const renamed = find(/rename\w*\(.*\.tmp-/, openTmp);
      const openShard = find(/openat\(.*\/traced\/03",/, renamed);
      const syncShard = find(/f(data)?sync\(/, openShard);
      expect(openTmp).toBeGreaterThanOrEqual(0);
      expect(syncTmp).toBeGreaterThan(openTmp);
      expect(renamed).toBeGreaterThan(syncTmp);
      expect(openShard).toBeGreaterThan(renamed);
      expect(syncShard).toBeGreaterThan(openShard);
    },
  );

  describe("gc", () => {
    test("removes only unreferenced chunks, and only once they are old enough", async () => {
      const t = clock(T0);
      const store = new ChunkStore(dir, { now: t.now });
      const keep = chunk("referenced");
      const old = chunk("old garbage");
      await store.putMany([keep, old]);
      t.advance(60_000);
      const young = chunk("young garbage");
      await store.putMany([young]);
      const refs = new Set([keep.hash]);

      // At T0+60s with minAge 30s: `old` (60s) goes, `young` (0s) stays, `keep` is referenced.
      t.advance(1);
      const r1 = await store.gc((h) => refs.has(h), 30_000);
      expect(r1).toEqual({ removed: 1, bytes: old.data.length });
      expect(store.has(old.hash)).toBe(false);
      expect(store.has(young.hash)).toBe(true);
      expect(store.has(keep.hash)).toBe(true);

      t.advance(30_000);
      const r2 = await store.gc((h) => refs.has(h), 30_000);
      expect(r2).toEqual({ removed: 1, bytes: young.data.length });
      expect(store.stats()).toEqual({ chunks: 1, bytes: keep.data.length });
      expect(await store.get(keep.hash)).toEqual(keep.data);
    });

    test("re-putting an existing chunk restarts its age", async () => {
      const t = clock(T0);
      const store = new ChunkStore(dir, { now: t.now });
      const a = chunk("reused by a new proposal");
      await store.putMany([a]);
      t.advance(3_600_000);
      await store.putMany([a]); // dedup hit: a proposal in flight uses it again
      t.advance(1000);
      expect(await store.gc(() => false, 60_000)).toEqual({ removed: 0, bytes: 0 });
      t.advance(60_000);
      expect((await store.gc(() => false, 60_000)).removed).toBe(1);
    });

    test("the default minimum age protects fresh chunks; minAge 0 collects everything unreferenced", async () => {
      const t = clock(T0);
      const store = new ChunkStore(dir, { now: t.now });
      await store.putMany([chunk("x"), chunk("y")]);
      expect((await store.gc(() => false)).removed).toBe(0);
      expect(await store.gc(() => false, 0)).toEqual({ removed: 2, bytes: 2 });
      expect(store.stats()).toEqual({ chunks: 0, bytes: 0 });
    });

    test("ages survive a reopen (they are file mtimes)", async () => {
      const t = clock(T0);
      const a = chunk("aged");
      await new ChunkStore(dir, { now: t.now }).putMany([a]);
      t.advance(10_000);
      expect((await new ChunkStore(dir, { now: t.now }).gc(() => false, 20_000)).removed).toBe(0);
      t.advance(10_001);
      expect((await new ChunkStore(dir, { now: t.now }).gc(() => false, 20_000)).removed).toBe(1);
    });
  });

  test("write throughput with fsync (printed, not asserted)", async () => {
    const n = 256;
    const chunks: Chunk[] = [];
    for (let i = 0; i < n; i++) {
      const data = new Uint8Array(64 * 1024);
      for (let j = 0; j < data.length; j += 4)
        new DataView(data.buffer).setUint32(j, (i * 2654435761 + j) >>> 0);
      chunks.push({ hash: sha256Hex(data), data });
    }
    mkdirSync(path.join(dir, "bench"));
    const store = new ChunkStore(path.join(dir, "bench"));
    const t0 = performance.now();
    for (let i = 0; i < n; i += 32) await store.putMany(chunks.slice(i, i + 32));
    const s = (performance.now() - t0) / 1000;
    const mb = (n * 64 * 1024) / 1e6;
    console.log(`chunk store: ${(mb / s).toFixed(0)} MB/s durable writes (${n} x 64 KiB, batches of 32)`);
    expect(store.stats().chunks).toBe(n);
  });
});

describe("ChunkStore with a database for small chunks", () => {
  let db: Database;
  beforeEach(() => {
    db = new Database(path.join(dir, "state.db"));
    db.exec("PRAGMA journal_mode = WAL");
  });
  afterEach(() => db.close());

  const big = () => {
    const data = new Uint8Array(20_000).map((_, i) => (i * 7) % 256);
    return { hash: sha256Hex(data), data };
  };

  test("a small chunk becomes a row, not a file; a large one stays a file; both read back and survive reopen", async () => {
    const store = new ChunkStore(path.join(dir, "chunks"), { db });
    const s = chunk("small file content");
    const b = big();
    await store.putMany([s, b]);
    expect(existsSync(store.pathOf(s.hash))).toBe(false);
    expect(existsSync(store.pathOf(b.hash))).toBe(true);
    expect(store.sizeOf(s.hash)).toBe(s.data.length);
    expect(store.stats()).toEqual({ chunks: 2, bytes: s.data.length + b.data.length });
    const again = new ChunkStore(path.join(dir, "chunks"), { db });
    expect(await again.get(s.hash)).toEqual(s.data);
    expect(await again.get(b.hash)).toEqual(b.data);
    expect(again.stats().chunks).toBe(2);
  });

  test("a row whose bytes no longer match its hash is dropped and reported missing", async () => {
    const store = new ChunkStore(path.join(dir, "chunks"), { db });
    const s = chunk("will rot");
    await store.putMany([s]);
    db.run("UPDATE cs_small SET data = ? WHERE hash = ?", [new TextEncoder().encode("rotten"), s.hash]);
    expect(await store.get(s.hash)).toBeNull();
    expect(store.has(s.hash)).toBe(false);
  });

  test("gc removes unreferenced rows older than the minimum age; a re-put restarts the age", async () => {
    const t = clock(T0);
    const store = new ChunkStore(path.join(dir, "chunks"), { db, now: t.now });
    const keep = chunk("referenced");
    const old = chunk("old");
    const reput = chunk("re-put");
    await store.putMany([keep, old, reput]);
    t.advance(50_000);
    await store.putMany([reput]);
    t.advance(20_000);
    const r = await store.gc((h) => h === keep.hash, 30_000);
    expect(r).toEqual({ removed: 1, bytes: old.data.length });
    expect(store.has(old.hash)).toBe(false);
    expect(store.has(keep.hash) && store.has(reput.hash)).toBe(true);
    expect((db.query("SELECT count(*) AS n FROM cs_small").get() as { n: number }).n).toBe(2);
  });
});
