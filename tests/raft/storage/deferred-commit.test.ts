import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deferredCommit } from "../../../src/raft/storage/deferred-commit.ts";

let dir: string;
let db: Database;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-deferred-"));
  db = new Database(path.join(dir, "state.db"));
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
  db.run("CREATE TABLE t (v INTEGER)");
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const sync = () => (db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous;

test("commits like a transaction and puts synchronous back to FULL afterwards", () => {
  expect(deferredCommit(db, () => db.run("INSERT INTO t VALUES (1)") && 42)).toBe(42);
  expect(sync()).toBe(2);
  const other = new Database(path.join(dir, "state.db"));
  expect(other.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 1 });
  other.close();
});

test("rolls back when fn throws, and still restores the setting", () => {
  expect(() =>
    deferredCommit(db, () => {
      db.run("INSERT INTO t VALUES (1)");
      throw new Error("boom");
    }),
  ).toThrow("boom");
  expect(sync()).toBe(2);
  expect(db.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 0 });
});

test("inside an open transaction it is a savepoint of that transaction", () => {
  db.transaction(() => {
    deferredCommit(db, () => db.run("INSERT INTO t VALUES (1)"));
    expect(db.inTransaction).toBe(true);
  })();
  expect(db.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 1 });
});
