import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { reconcileCandidates } from "../../src/node/reconcile-candidates.ts";
import { FileIndex, type IndexEntry } from "../../src/store/file-index.ts";
import { IgnoreRules } from "../../src/watcher/ignore-rules.ts";
import { type WalkEntry, walkFolder } from "../../src/watcher/walk.ts";

let dir: string;
let root: string;
let db: Database;
let index: FileIndex;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-reconcile-"));
  root = path.join(dir, "folder");
  mkdirSync(root);
  db = new Database(path.join(dir, "state.db"), { create: true, strict: true });
  index = new FileIndex(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const p = (rel: string) => path.join(root, rel);

/** Records `rel` as applied here: its entry (kind and mode from disk) and, for a file, its local stat. */
function recordAsApplied(rel: string): void {
  const st = lstatSync(p(rel));
  const e: IndexEntry = {
    path: rel,
    kind: st.isDirectory() ? "dir" : "file",
    hash: "0".repeat(64),
    size: st.isDirectory() ? 0 : st.size,
    mode: st.mode & 0o7777,
    mtimeMs: st.mtimeMs,
    chunks: [],
    clock: { n1: 1 },
    deleted: false,
    origin: "n1",
    updatedIndex: 1,
  };
  index.put(e);
  if (!st.isDirectory()) index.setLocalStat(rel, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
}

async function walk(): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  for await (const e of walkFolder(root, new IgnoreRules(root))) out.push(e);
  return out;
}

describe("reconcileCandidates", () => {
  test("a folder that agrees with the index yields nothing to scan", async () => {
    mkdirSync(p("d"));
    writeFileSync(p("d/a.txt"), "a");
    writeFileSync(p("b.bin"), new Uint8Array([0, 1, 2]));
    for (const rel of ["d", "d/a.txt", "b.bin"]) recordAsApplied(rel);
    expect(reconcileCandidates(index, await walk())).toEqual([]);
  });

  test("new, edited, chmod'ed, replaced and vanished paths are all candidates", async () => {
    mkdirSync(p("d"));
    for (const f of ["same.txt", "edited.txt", "sized.txt", "chmod.txt", "replaced.txt", "gone.txt"])
      writeFileSync(p(`d/${f}`), "12345");
    writeFileSync(p("unrecorded.txt"), "index has it, but this node never recorded its stat");
    for (const rel of [
      "d",
      "d/same.txt",
      "d/edited.txt",
      "d/sized.txt",
      "d/chmod.txt",
      "d/replaced.txt",
      "d/gone.txt",
    ])
      recordAsApplied(rel);
    index.put({ ...index.get("d/same.txt")!, path: "unrecorded.txt" });

    // Same size, same inode: only the mtime tells (set apart explicitly: two writes may share a clock tick).
    writeFileSync(p("d/edited.txt"), "54321");
    const later = new Date(lstatSync(p("d/edited.txt")).mtimeMs + 5000);
    utimesSync(p("d/edited.txt"), later, later);
    writeFileSync(p("d/sized.txt"), "123456");
    chmodSync(p("d/chmod.txt"), 0o600);
    unlinkSync(p("d/replaced.txt"));
    symlinkSync("same.txt", p("d/replaced.txt")); // another kind at the same name
    unlinkSync(p("d/gone.txt"));
    writeFileSync(p("d/new.txt"), "new");
    chmodSync(p("d"), 0o700); // a directory's mode change is a change too

    const got = reconcileCandidates(index, await walk());
    expect([...got].sort()).toEqual(
      [
        "d",
        "d/chmod.txt",
        "d/edited.txt",
        "d/gone.txt",
        "d/new.txt",
        "d/replaced.txt",
        "d/sized.txt",
        "unrecorded.txt",
      ].sort(),
    );
    // Vanished paths come after everything found on disk.
    expect(got.at(-1)).toBe("d/gone.txt");
  });

  test("tombstones are not candidates when nothing is on disk", async () => {
    writeFileSync(p("x.txt"), "x");
    recordAsApplied("x.txt");
    index.put({ ...index.get("x.txt")!, deleted: true });
    unlinkSync(p("x.txt"));
    expect(reconcileCandidates(index, await walk())).toEqual([]);
  });
});
