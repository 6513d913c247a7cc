import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteRaftStorage } from "../../../src/raft/storage/sqlite-raft-storage.ts";
import { deterministicEntry } from "./fixtures/deterministic-entry.ts";
import { entry, raftStorageContract, range } from "./raft-storage-contract.ts";

let dir: string;
let counter = 0;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pickbox-sqlite-raft-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

raftStorageContract("SqliteRaftStorage", () => new SqliteRaftStorage(join(dir, `c${counter++}`, "state.db")));

describe("SqliteRaftStorage", () => {
  test("uses WAL with synchronous=FULL and creates the parent folder", () => {
    const s = new SqliteRaftStorage(join(dir, "node1", ".pickbox", "state.db"));
    expect(s.db.prepare("PRAGMA journal_mode").values()[0]![0]).toBe("wal");
    expect(s.db.prepare("PRAGMA synchronous").values()[0]![0]).toBe(2); // 2 = FULL
    expect(s.db.prepare("PRAGMA busy_timeout").values()[0]![0]).toBe(5000);
    s.close();
  });

  test("reopening restores entries, bounds and hard state", () => {
    const path = join(dir, "state.db");
    const a = new SqliteRaftStorage(path);
    a.persist({ term: 3, vote: "n2", commit: 8 }, range(1, 12, 3));
    a.compact(4);
    a.storeEntries([entry(10, 4), entry(11, 4)]);
    a.set("applied", new Uint8Array([8]));
    a.close();

    const b = new SqliteRaftStorage(path);
    expect(b.firstIndex()).toBe(5);
    expect(b.lastIndex()).toBe(11);
    expect(b.getHardState()).toEqual({ term: 3, vote: "n2", commit: 8 });
    expect(b.getEntries(1, 20).map((e) => `${e.index}/${e.term}`)).toEqual([
      "5/3",
      "6/3",
      "7/3",
      "8/3",
      "9/3",
      "10/4",
      "11/4",
    ]);
    expect(Array.from(b.get("applied")!)).toEqual([8]);
    expect(b.termAt(10)).toBe(4);
    expect(b.termAt(4)).toBeNull();
    expect(b.termAt(12)).toBeNull();
    b.close();
  });

  test("a borrowed Database is shared and stays open after close()", () => {
    const db = new Database(join(dir, "shared.db"), { strict: true });
    const s = new SqliteRaftStorage(db);
    expect(s.db).toBe(db);
    db.run("CREATE TABLE files (path TEXT PRIMARY KEY)");
    db.run("INSERT INTO files VALUES ('a.txt')");
    s.storeEntries(range(1, 2, 1));
    s.close();
    expect(db.prepare("SELECT count(*) AS n FROM raft_log").get()).toEqual({ n: 2 });
    expect(db.prepare("SELECT count(*) AS n FROM files").get()).toEqual({ n: 1 });
    db.close();
  });

  test("refuses to persist inside someone else's open transaction", () => {
    const s = new SqliteRaftStorage(join(dir, "state.db"));
    s.db.run("BEGIN");
    expect(() => s.storeEntries([entry(1, 1)])).toThrow(/inside an open transaction/);
    s.db.run("ROLLBACK");
    s.storeEntries([entry(1, 1)]);
    expect(s.lastIndex()).toBe(1);
    s.close();
  });

  test("a failed persist rolls back entirely and leaves the cached bounds alone", () => {
    const s = new SqliteRaftStorage(join(dir, "state.db"));
    s.persist({ term: 1, vote: null, commit: 0 }, range(1, 5, 1));
    // Make the third insert fail with a trigger: the truncation and the first inserts must roll back too.
    s.db.run(
      "CREATE TRIGGER boom BEFORE INSERT ON raft_log WHEN NEW.idx = 5 AND NEW.term = 2 BEGIN SELECT RAISE(ABORT, 'boom'); END",
    );
    expect(() => s.persist({ term: 2, vote: "x", commit: 3 }, range(3, 6, 2))).toThrow(/boom/);
    expect(s.lastIndex()).toBe(5);
    expect(s.getEntries(1, 10).map((e) => `${e.index}/${e.term}`)).toEqual([
      "1/1",
      "2/1",
      "3/1",
      "4/1",
      "5/1",
    ]);
    expect(s.getHardState()).toEqual({ term: 1, vote: null, commit: 0 });
    s.close();
  });

  test("every index acknowledged by a process killed with SIGKILL is present and intact", async () => {
    const path = join(dir, "state.db");
    const fixture = join(import.meta.dir, "fixtures", "persist-until-killed.ts");
    let acked = 0;
    // Kill twice: the second run starts from a database left by a kill -9 (WAL recovery).
    for (let round = 1; round <= 2; round++) {
      const child = Bun.spawn([process.execPath, fixture, path], { stdout: "pipe", stderr: "pipe" });
      try {
        const reader = child.stdout.getReader();
        const decoder = new TextDecoder();
        let pending = "";
        let seenThisRound = 0;
        while (seenThisRound < 400) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`child exited early: ${await new Response(child.stderr).text()}`);
          pending += decoder.decode(value, { stream: true });
          const lines = pending.split("\n");
          pending = lines.pop()!; // a partial line is not an acknowledgement
          for (const line of lines) {
            const idx = Number(line);
            expect(idx).toBeGreaterThan(acked);
            acked = idx;
            seenThisRound++;
          }
        }
        child.kill("SIGKILL");
        expect(await child.exited).not.toBe(0);
        expect(child.signalCode).toBe("SIGKILL");
      } finally {
        child.kill("SIGKILL");
      }

      const s = new SqliteRaftStorage(path);
      try {
        expect(s.firstIndex()).toBe(1);
        expect(s.lastIndex()).toBeGreaterThanOrEqual(acked);
        const hs = s.getHardState()!;
        expect(hs.commit).toBeGreaterThanOrEqual(acked);
        expect(hs.commit).toBe(s.lastIndex()); // written in the same transaction as the entries
        const stored = s.getEntries(1, s.lastIndex() + 1);
        expect(stored.length).toBe(s.lastIndex());
        for (const e of stored) {
          const want = deterministicEntry(e.index);
          if (e.term !== want.term || !Buffer.from(e.data).equals(Buffer.from(want.data))) {
            throw new Error(`entry ${e.index} is corrupt after kill -9`);
          }
        }
      } finally {
        s.close();
      }
    }
  }, 30_000);
});
