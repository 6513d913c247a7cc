import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { agreesWithIndex, FileIndex, type IndexEntry } from "../../src/store/file-index.ts";

let dir: string;
let dbPath: string;
let db: Database;
let index: FileIndex;

function open(): void {
  db = new Database(dbPath, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  index = new FileIndex(db);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-index-"));
  dbPath = path.join(dir, "state.db");
  open();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const h = (c: string) => c.repeat(64);

function file(p: string, chunks: string[], extra: Partial<IndexEntry> = {}): IndexEntry {
  return {
    path: p,
    kind: "file",
    hash: h("f"),
    size: chunks.length * 100,
    mode: 0o644,
    mtimeMs: 1_700_000_000_123.5,
    chunks,
    clock: { n1: 1 },
    deleted: false,
    origin: "n1",
    updatedIndex: 7,
    ...extra,
  };
}

describe("FileIndex entries", () => {
  test("put/get round-trips every field; get of a missing path is undefined", () => {
    const e = file("docs/a.txt", [h("a"), h("b")], { clock: { n2: 3, n1: 1 }, mode: 0o600, origin: "n2" });
    index.put(e);
    expect(index.get("docs/a.txt")).toEqual(e);
    expect(index.get("docs/missing")).toBeUndefined();
    const d: IndexEntry = { ...file("docs", []), kind: "dir", hash: "", size: 0, mode: 0o755 };
    index.put(d);
    expect(index.get("docs")).toEqual(d);
  });

  test("put replaces; remove hard-removes; tombstones are entries with deleted=true", () => {
    index.put(file("a", [h("a")]));
    index.put(file("a", [h("b")], { updatedIndex: 9 }));
    expect(index.get("a")?.chunks).toEqual([h("b")]);
    expect(index.get("a")?.updatedIndex).toBe(9);
    index.put(file("a", [], { deleted: true, hash: "" }));
    expect(index.get("a")?.deleted).toBe(true);
    expect(index.list().map((e) => e.path)).toEqual([]);
    expect(index.list({ includeDeleted: true }).map((e) => e.path)).toEqual(["a"]);
    index.remove("a");
    expect(index.get("a")).toBeUndefined();
    index.remove("a"); // removing a missing path is fine
  });

  test("list is in path order and filters by prefix (a string prefix, using the index)", () => {
    for (const p of ["b", "a/x", "a", "a/y/z", "ab", "a/é", "a0", "c"]) index.put(file(p, []));
    index.put(file("a/gone", [], { deleted: true }));
    expect(index.list().map((e) => e.path)).toEqual(["a", "a/x", "a/y/z", "a/é", "a0", "ab", "b", "c"]);
    expect(index.list({ prefix: "a/" }).map((e) => e.path)).toEqual(["a/x", "a/y/z", "a/é"]);
    expect(index.list({ prefix: "a/", includeDeleted: true }).map((e) => e.path)).toEqual([
      "a/gone",
      "a/x",
      "a/y/z",
      "a/é",
    ]);
    expect(index.list({ prefix: "a" }).map((e) => e.path)).toEqual(["a", "a/x", "a/y/z", "a/é", "a0", "ab"]);
    expect(index.list({ prefix: "zz" })).toEqual([]);
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT path FROM fi_entries WHERE path >= ? AND path < CAST(? AS TEXT)")
      .all("a/", new Uint8Array([0x61, 0x2f, 0xff])) as Array<{ detail: string }>;
    expect(plan.map((r) => r.detail).join(" ")).toMatch(/SEARCH .*PRIMARY KEY/);
  });

  test("a prefix matches names containing the highest Unicode code points", () => {
    index.put(file("p/\u{10FFFF}\u{10FFFF}x", []));
    index.put(file("p/\uFFFF", []));
    index.put(file("q", []));
    expect(index.list({ prefix: "p/" }).map((e) => e.path)).toEqual(["p/\uFFFF", "p/\u{10FFFF}\u{10FFFF}x"]);
  });

  test("count: live files, live dirs, tombstones, bytes of live files", () => {
    expect(index.count()).toEqual({ files: 0, dirs: 0, tombstones: 0, bytes: 0 });
    index.put(file("f1", [], { size: 10 }));
    index.put(file("f2", [], { size: 32 }));
    index.put(file("gone", [], { size: 1000, deleted: true }));
    index.put({ ...file("d", []), kind: "dir", size: 4096 });
    expect(index.count()).toEqual({ files: 2, dirs: 1, tombstones: 1, bytes: 42 });
  });

  test("everything survives closing and reopening the database", () => {
    const e = file("keep/me", [h("c")], { clock: { a: 2, b: 9 } });
    index.put(e);
    index.setLocalStat("keep/me", { size: 5, mtimeMs: 1.5, ino: 4242 });
    index.setMeta("appliedIndex", "77");
    db.close();
    open();
    expect(index.get("keep/me")).toEqual(e);
    expect(index.getLocalStat("keep/me")).toEqual({ size: 5, mtimeMs: 1.5, ino: 4242 });
    expect(index.getMeta("appliedIndex")).toBe("77");
    expect(index.isChunkReferenced(h("c"))).toBe(true);
  });

  test("shares the database with other tables (only fi_ tables are created)", () => {
    db.run("CREATE TABLE raft_log (idx INTEGER PRIMARY KEY, data BLOB)");
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as Array<{
      name: string;
    }>;
    expect(tables.map((t) => t.name)).toEqual([
      "fi_chunk_refs",
      "fi_entries",
      "fi_local_stat",
      "fi_meta",
      "raft_log",
    ]);
    new FileIndex(db); // opening twice on the same db is harmless
  });
});

describe("FileIndex local stat and meta", () => {
  test("local stat set, replace, clear with null; separate from the replicated entry", () => {
    expect(index.getLocalStat("a")).toBeUndefined();
    index.setLocalStat("a", { size: 1, mtimeMs: 2, ino: 3 });
    index.setLocalStat("a", { size: 4, mtimeMs: 5.25, ino: 6 });
    expect(index.getLocalStat("a")).toEqual({ size: 4, mtimeMs: 5.25, ino: 6 });
    index.setLocalStat("a", null);
    expect(index.getLocalStat("a")).toBeUndefined();
  });

  test("remove also forgets the local stat", () => {
    index.put(file("a", []));
    index.setLocalStat("a", { size: 1, mtimeMs: 2, ino: 3 });
    index.remove("a");
    expect(index.getLocalStat("a")).toBeUndefined();
  });

  test("liveLocalStates: every live path with kind and mode, and a file's local stat when recorded", () => {
    index.put(file("a", [h("1")]));
    index.setLocalStat("a", { size: 100, mtimeMs: 7.5, ino: 11 });
    index.put(file("never-seen", [h("2")], { mode: 0o600 }));
    index.put({ ...file("d", []), kind: "dir", mode: 0o755 });
    index.put(file("gone", [h("3")], { deleted: true }));
    index.setLocalStat("gone", { size: 1, mtimeMs: 1, ino: 1 });
    index.setLocalStat("untracked", { size: 1, mtimeMs: 1, ino: 2 }); // a stat without an entry
    const m = index.liveLocalStates();
    expect([...m.keys()].sort()).toEqual(["a", "d", "never-seen"]);
    expect(m.get("a")).toEqual({ kind: "file", mode: 0o644, stat: { size: 100, mtimeMs: 7.5, ino: 11 } });
    expect(m.get("never-seen")).toEqual({ kind: "file", mode: 0o600 });
    expect(m.get("d")).toEqual({ kind: "dir", mode: 0o755 });
  });

  test("agreesWithIndex: only the recorded inode, size, mtime and mode of a regular file, or a dir's mode", () => {
    const REG = 0o100000;
    const DIR = 0o040000;
    const LNK = 0o120000;
    const k = { kind: "file" as const, mode: 0o644, stat: { size: 5, mtimeMs: 1.25, ino: 9 } };
    const st = { mode: REG | 0o644, ino: 9, size: 5, mtimeMs: 1.25 };
    expect(agreesWithIndex(k, st)).toBe(true);
    expect(agreesWithIndex(k, { ...st, ino: 10 })).toBe(false);
    expect(agreesWithIndex(k, { ...st, size: 6 })).toBe(false);
    expect(agreesWithIndex(k, { ...st, mtimeMs: 1.2500001 })).toBe(false);
    expect(agreesWithIndex(k, { ...st, mode: REG | 0o600 })).toBe(false);
    expect(agreesWithIndex(k, { ...st, mode: LNK | 0o644 })).toBe(false);
    expect(agreesWithIndex(k, { ...st, mode: DIR | 0o644 })).toBe(false);
    expect(agreesWithIndex({ kind: "file", mode: 0o644 }, st)).toBe(false); // no stat recorded
    const dir = { kind: "dir" as const, mode: 0o755 };
    expect(agreesWithIndex(dir, { mode: DIR | 0o755, ino: 1, size: 4096, mtimeMs: 3 })).toBe(true);
    expect(agreesWithIndex(dir, { mode: DIR | 0o700, ino: 1, size: 4096, mtimeMs: 3 })).toBe(false);
    expect(agreesWithIndex(dir, { mode: REG | 0o755, ino: 1, size: 0, mtimeMs: 3 })).toBe(false);
  });

  test("meta get/set", () => {
    expect(index.getMeta("appliedIndex")).toBeUndefined();
    index.setMeta("appliedIndex", "1");
    index.setMeta("appliedIndex", "2");
    expect(index.getMeta("appliedIndex")).toBe("2");
  });
});

describe("FileIndex chunk references", () => {
  test("counted per live entry, maintained through replace, tombstone and remove", () => {
    const [A, B, C] = [h("a"), h("b"), h("c")];
    index.put(file("x", [A, B]));
    index.put(file("y", [B, C, C])); // a chunk repeated inside one file counts once for it
    expect([A, B, C].map((c) => index.chunkRefCount(c))).toEqual([1, 2, 1]);

    index.put(file("x", [C])); // replace: A dropped, B down, C up
    expect(index.isChunkReferenced(A)).toBe(false);
    expect([B, C].map((c) => index.chunkRefCount(c))).toEqual([1, 2]);

    index.put(file("y", [B, C], { deleted: true })); // tombstones keep nothing alive
    expect(index.isChunkReferenced(B)).toBe(false);
    expect(index.chunkRefCount(C)).toBe(1);

    index.put(file("y", [B])); // resurrected
    expect(index.isChunkReferenced(B)).toBe(true);

    index.remove("x");
    index.remove("y");
    expect([A, B, C].some((c) => index.isChunkReferenced(c))).toBe(false);
    expect(db.prepare("SELECT COUNT(*) AS n FROM fi_chunk_refs").get()).toEqual({ n: 0 });
  });

  test("reference counts equal a recount from the entries after a random sequence of operations", () => {
    let s = 42;
    const rnd = (n: number) => {
      s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
      return s % n;
    };
    const hashes = Array.from({ length: 12 }, (_, i) => i.toString(16).padStart(64, "0"));
    for (let i = 0; i < 500; i++) {
      const p = `f${rnd(15)}`;
      const op = rnd(10);
      if (op < 6)
        index.put(
          file(
            p,
            Array.from({ length: rnd(5) }, () => hashes[rnd(12)]!),
          ),
        );
      else if (op < 8) index.put(file(p, [hashes[rnd(12)]!], { deleted: true }));
      else index.remove(p);
    }
    for (const c of hashes) {
      const want = index.list().filter((e) => e.chunks.includes(c)).length;
      expect(index.chunkRefCount(c)).toBe(want);
    }
  });

  test("clear empties entries, references and local stats but keeps meta", () => {
    index.put(file("a", [h("a")]));
    index.setLocalStat("a", { size: 1, mtimeMs: 1, ino: 1 });
    index.setMeta("appliedIndex", "5");
    index.clear();
    expect(index.list({ includeDeleted: true })).toEqual([]);
    expect(index.isChunkReferenced(h("a"))).toBe(false);
    expect(index.getLocalStat("a")).toBeUndefined();
    expect(index.getMeta("appliedIndex")).toBe("5");
  });
});

describe("FileIndex transactions", () => {
  test("returns the function's value and commits everything together", () => {
    const n = index.transaction(() => {
      index.put(file("a", [h("a")]));
      index.setMeta("appliedIndex", "3");
      return 3;
    });
    expect(n).toBe(3);
    expect(index.get("a")).toBeDefined();
  });

  test("a throw rolls back entries, references, stats and meta", () => {
    index.put(file("a", [h("a")]));
    index.setMeta("appliedIndex", "1");
    expect(() =>
      index.transaction(() => {
        index.put(file("a", [h("b")]));
        index.put(file("b", [h("c")]));
        index.setLocalStat("b", { size: 1, mtimeMs: 1, ino: 1 });
        index.setMeta("appliedIndex", "2");
        index.clear();
        throw new Error("apply failed");
      }),
    ).toThrow("apply failed");
    expect(index.get("a")?.chunks).toEqual([h("a")]);
    expect(index.get("b")).toBeUndefined();
    expect(index.getLocalStat("b")).toBeUndefined();
    expect(index.getMeta("appliedIndex")).toBe("1");
    expect(index.isChunkReferenced(h("a"))).toBe(true);
    expect(index.isChunkReferenced(h("b"))).toBe(false);
  });

  test("nested transactions work (savepoints)", () => {
    index.transaction(() => {
      index.put(file("outer", []));
      expect(() =>
        index.transaction(() => {
          index.put(file("inner", []));
          throw new Error("inner fails");
        }),
      ).toThrow("inner fails");
    });
    expect(index.get("outer")).toBeDefined();
    expect(index.get("inner")).toBeUndefined();
  });

  test("bulk put throughput (printed, not asserted)", () => {
    db.run("PRAGMA synchronous = FULL");
    const n = 20_000;
    const chunks = Array.from({ length: 4 }, (_, i) => i.toString(16).padStart(64, "0"));
    const t0 = performance.now();
    index.transaction(() => {
      for (let i = 0; i < n; i++) index.put(file(`dir${i % 100}/file${i}`, chunks));
    });
    const s = (performance.now() - t0) / 1000;
    console.log(`file index: ${(n / s).toFixed(0)} puts/s in one transaction (4 chunks each)`);
    expect(index.count().files).toBe(n);
  });
});
