import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { Packr } from "msgpackr";
import { conflictName } from "../../src/store/conflict.ts";
import type { ApplyResult } from "../../src/store/file-fsm.ts";
import {
  del,
  folderState,
  Log,
  openNode,
  type PeerChunks,
  put,
  readText,
  type TestNode,
  testNodesPerTest,
} from "./fsm-fixture.ts";

const t = testNodesPerTest();
const node = t.node;

async function applyAll(n: TestNode, log: Log): Promise<ApplyResult[]> {
  const out: ApplyResult[] = [];
  for (const e of log.entries) out.push(await n.fsm.apply(e));
  return out;
}

function modeOf(n: TestNode, p: string): number {
  return statSync(path.join(n.root, p)).mode & 0o7777;
}

describe("FileFSM apply", () => {
  test("put, nested put, mkdir, delete and rmdir are materialised and indexed", async () => {
    const a = node("a");
    const log = new Log();
    await a.fsm.apply(log.add(put("hello.txt", "hello\n")));
    expect(readText(a.root, "hello.txt")).toBe("hello\n");
    await a.fsm.apply(log.add(put("x/y/z.txt", "deep")));
    expect(readText(a.root, "x/y/z.txt")).toBe("deep");
    expect(a.index.get("x")?.kind).toBe("dir");
    expect(a.index.get("x/y")?.kind).toBe("dir");
    await a.fsm.apply(log.add({ op: "mkdir", path: "empty", mode: 0o700, base: {}, origin: "n1" }));
    expect(statSync(path.join(a.root, "empty")).isDirectory()).toBe(true);
    expect(modeOf(a, "empty")).toBe(0o700);

    const helloClock = a.index.get("hello.txt")!.clock;
    expect(helloClock).toEqual({ n1: 1 });
    await a.fsm.apply(log.add(del("hello.txt", helloClock)));
    expect(existsSync(path.join(a.root, "hello.txt"))).toBe(false);
    expect(a.index.get("hello.txt")?.deleted).toBe(true);
    expect(a.index.getLocalStat("hello.txt")).toBeUndefined();

    // rmdir of a dir with live children is refused; once empty it goes.
    const r1 = await a.fsm.apply(
      log.add({ op: "rmdir", path: "x/y", base: a.index.get("x/y")!.clock, origin: "n1" }),
    );
    expect(r1.action).toBe("not-empty");
    expect(existsSync(path.join(a.root, "x/y/z.txt"))).toBe(true);
    await a.fsm.apply(log.add(del("x/y/z.txt", a.index.get("x/y/z.txt")!.clock)));
    const r2 = await a.fsm.apply(
      log.add({ op: "rmdir", path: "x/y", base: a.index.get("x/y")!.clock, origin: "n1" }),
    );
    expect(r2.action).toBe("rmdir");
    expect(existsSync(path.join(a.root, "x/y"))).toBe(false);
    expect(a.index.get("x/y")?.deleted).toBe(true);
    expect(a.fsm.appliedIndex()).toBe(log.entries.length);
    expect(a.index.getMeta("appliedIndex")).toBe(String(log.entries.length));
  });

  test("modes 0600 and 0755, empty and binary files are preserved exactly", async () => {
    const a = node("a");
    const log = new Log();
    const bin = new Uint8Array(300_000);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919 + (i >> 8)) & 0xff;
    log.add(put("secret", "s", { mode: 0o600 }));
    log.add(put("run.sh", "#!/bin/sh\n", { mode: 0o755 }));
    log.add(put("empty", ""));
    log.add(put("blob.bin", bin));
    await applyAll(a, log);
    expect(modeOf(a, "secret")).toBe(0o600);
    expect(modeOf(a, "run.sh")).toBe(0o755);
    expect(statSync(path.join(a.root, "empty")).size).toBe(0);
    expect(a.index.get("empty")!.chunks).toEqual([]);
    expect(new Uint8Array(await Bun.file(path.join(a.root, "blob.bin")).arrayBuffer())).toEqual(bin);
    expect(a.index.get("blob.bin")!.chunks.length).toBeGreaterThan(1);
    expect(statSync(path.join(a.root, "blob.bin")).mtimeMs).toBe(1_700_000_000_000);
  });

  test("a mode-only change with the same bytes is applied", async () => {
    const a = node("a");
    const log = new Log();
    await a.fsm.apply(log.add(put("f", "x", { mode: 0o644 })));
    const r = await a.fsm.apply(log.add(put("f", "x", { mode: 0o600, base: a.index.get("f")!.clock })));
    expect(r.action).toBe("put");
    expect(modeOf(a, "f")).toBe(0o600);
  });

  test("concurrent edits: the first committed keeps the name, the other becomes a deterministic conflict copy", async () => {
    const a = node("a");
    const b = node("b");
    const log = new Log();
    log.add(put("doc.txt", "v1", { origin: "n1" }));
    const v1 = { n1: 1 };
    log.add(put("doc.txt", "from n2", { origin: "n2", base: v1, mtimeMs: Date.UTC(2024, 0, 2, 3, 4, 5) }));
    log.add(put("doc.txt", "from n3", { origin: "n3", base: v1, mtimeMs: Date.UTC(2024, 0, 2, 3, 4, 6) }));
    const results = await applyAll(a, log);
    await applyAll(b, log);
    const name = conflictName("doc.txt", Date.UTC(2024, 0, 2, 3, 4, 6), "n3");
    expect(name).toBe("doc.sync-conflict-20240102-030406-n3.txt");
    expect(results[2]).toMatchObject({ action: "conflict", path: "doc.txt", conflictPath: name });
    for (const n of [a, b]) {
      expect(readText(n.root, "doc.txt")).toBe("from n2");
      expect(readText(n.root, name)).toBe("from n3");
      expect(n.index.get(name)).toMatchObject({ kind: "file", deleted: false, origin: "n3" });
    }
    expect(a.events.some((e) => e.type === "conflict" && e.conflictPath === name)).toBe(true);
    expect(folderState(a.root)).toEqual(folderState(b.root));
  });

  test("isEchoOfApply: true only for the very file an apply placed and recorded", async () => {
    const a = node("a");
    const log = new Log();
    const abs = path.join(a.root, "e/echo.txt");
    const isEcho = () => a.fsm.isEchoOfApply("e/echo.txt", lstatSync(abs));
    expect(a.fsm.isEchoOfApply("e/echo.txt", { ino: 1, size: 1, mtimeMs: 1, mode: 0o100644 })).toBe(false);
    await a.fsm.apply(log.add(put("e/echo.txt", "v1", { mode: 0o640 })));
    expect(isEcho()).toBe(true);
    // The index recorded the same stat: a scan would propose nothing either.
    const st = lstatSync(abs);
    expect(a.index.getLocalStat("e/echo.txt")).toEqual({ size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });

    // A person's edit in place (same inode), a chmod, or a replacement are not echoes.
    writeFileSync(abs, "v1 edited");
    expect(isEcho()).toBe(false);
    await a.fsm.apply(log.add(put("e/echo.txt", "v2", { base: a.index.get("e/echo.txt")!.clock })));
    expect(isEcho()).toBe(true);
    chmodSync(abs, 0o600);
    expect(isEcho()).toBe(false);
    chmodSync(abs, 0o644);
    expect(isEcho()).toBe(true);
    // An unrecorded file at the path (the FSM did not place it) is no echo, nor is a path deleted since.
    await a.fsm.apply(log.add(del("e/echo.txt", a.index.get("e/echo.txt")!.clock)));
    writeFileSync(abs, "v2");
    expect(isEcho()).toBe(false);
  });

  test("an edit beats a concurrent delete, in either commit order", async () => {
    const a = node("a");
    const log = new Log();
    await a.fsm.apply(log.add(put("e.txt", "v1")));
    const v1 = a.index.get("e.txt")!.clock;
    // Edit commits first, then the delete based on v1: the delete is dropped.
    await a.fsm.apply(log.add(put("e.txt", "v2", { origin: "n2", base: v1 })));
    const r = await a.fsm.apply(log.add(del("e.txt", v1, "n3")));
    expect(r.action).toBe("drop-delete");
    expect(readText(a.root, "e.txt")).toBe("v2");

    await a.fsm.apply(log.add(put("f.txt", "v1")));
    const f1 = a.index.get("f.txt")!.clock;
    // Delete commits first, then the edit based on v1: the edit resurrects the file.
    await a.fsm.apply(log.add(del("f.txt", f1, "n3")));
    expect(existsSync(path.join(a.root, "f.txt"))).toBe(false);
    const r2 = await a.fsm.apply(log.add(put("f.txt", "v2", { origin: "n2", base: f1 })));
    expect(r2.action).toBe("put");
    expect(readText(a.root, "f.txt")).toBe("v2");
  });

  test("re-applying entries is harmless: skipped by index, and a crash before the index commit leaves no conflict copies", async () => {
    const a = node("a");
    const log = new Log();
    log.add(put("one.txt", "1"));
    log.add(put("d/two.txt", "2", { mode: 0o600 }));
    log.add(del("one.txt", { n1: 1 }));
    await applyAll(a, log);
    // The index as it was before the next entry: what survives a crash between materialising and commit.
    const copy = path.join(t.base, "before.db");
    a.db.run(`VACUUM INTO '${copy}'`);
    log.add(put("one.txt", "again", { base: { n1: 2 } }));
    log.add(put("d/two.txt", "2 edited", { base: { n1: 1 } }));
    await applyAll(a, log);
    const state = folderState(a.root);
    const index = a.index.list({ includeDeleted: true });
    const again = await applyAll(a, log);
    expect(again.every((r) => r.action === "skipped")).toBe(true);
    expect(folderState(a.root)).toEqual(state);

    const crashed = openNode(a.root, "a", new Map(), new Database(copy));
    t.track(crashed);
    expect(crashed.fsm.appliedIndex()).toBe(3);
    await applyAll(crashed, log);
    expect(folderState(crashed.root)).toEqual(state); // no conflict copies of our own writes
    expect(crashed.index.list({ includeDeleted: true })).toEqual(index);
    expect(crashed.index.getLocalStat("one.txt")).toBeDefined();
  });

  test("a duplicated proposal (same command twice in the log) changes nothing the second time", async () => {
    const a = node("a");
    const log = new Log();
    await a.fsm.apply(log.add(put("f", "v1")));
    const edit = put("f", "v2", { origin: "n2", base: { n1: 1 } });
    await a.fsm.apply(log.add(edit));
    const r = await a.fsm.apply(log.add(edit));
    expect(r.action).toBe("noop");
    expect(readdirSync(a.root).filter((n) => n !== ".pickbox")).toEqual(["f"]);
  });

  test("two FSMs fed the same entries produce byte-identical folders and indexes", async () => {
    const a = node("a");
    const b = node("b");
    const log = new Log();
    log.add(put("a/b/c.txt", "abc", { origin: "n1" }));
    log.add([put("x.txt", "x", { origin: "n2" }), put("y.txt", "y", { origin: "n2", mode: 0o600 })]);
    log.add(put("x.txt", "x2", { origin: "n3", base: { n2: 1 } }));
    log.add(put("x.txt", "x3", { origin: "n1", base: { n2: 1 } }));
    log.add({ op: "mkdir", path: "m", mode: 0o750, base: {}, origin: "n3" });
    log.add(del("y.txt", { n2: 1 }, "n3"));
    log.add(put("m/deep.bin", new Uint8Array(200_000).fill(7), { origin: "n2" }));
    await applyAll(a, log);
    await applyAll(b, log);
    expect(folderState(a.root)).toEqual(folderState(b.root));
    expect(a.index.list({ includeDeleted: true })).toEqual(b.index.list({ includeDeleted: true }));
    expect(Object.keys(folderState(a.root))).toContain(conflictName("x.txt", 1_700_000_000_000, "n1"));
  });

  test("a batch of 500 small files rides in one entry", async () => {
    const a = node("a");
    const log = new Log();
    const cmds = Array.from({ length: 500 }, (_, i) => put(`burst/f${i}.txt`, `file ${i}`));
    const r = await a.fsm.apply(log.add(cmds));
    expect(r.action).toBe("batch");
    expect(r.results?.length).toBe(500);
    expect(readdirSync(path.join(a.root, "burst")).length).toBe(500);
    expect(a.index.count().files).toBe(500);
    expect(a.fsm.appliedIndex()).toBe(1);
  }, 30_000);

  test("chunks not carried inline are fetched from peers", async () => {
    const peers: PeerChunks = new Map();
    const a = node("a", peers);
    const log = new Log();
    const big = new Uint8Array(400_000).map((_, i) => (i * 31) & 0xff);
    await a.fsm.apply(log.add(put("big.bin", big, { outOfBand: peers, origin: "n2" })));
    expect(a.fetched.length).toBe(1);
    expect(new Uint8Array(await Bun.file(path.join(a.root, "big.bin")).arrayBuffer())).toEqual(big);
  });

  test("apply fails without advancing when a chunk is unavailable anywhere", async () => {
    const a = node("a");
    const log = new Log();
    await expect(a.fsm.apply(log.add(put("lost.bin", "zzz", { outOfBand: new Map() })))).rejects.toThrow(
      /unavailable/,
    );
    expect(a.fsm.appliedIndex()).toBe(0);
    expect(a.index.get("lost.bin")).toBeUndefined();
  });

  test("an unproposed local edit in the way of a remote change is moved aside, not destroyed", async () => {
    const a = node("a");
    const log = new Log();
    await a.fsm.apply(log.add(put("notes.txt", "v1", { origin: "n1" })));
    writeFileSync(path.join(a.root, "notes.txt"), "my local edit");
    const r = await a.fsm.apply(log.add(put("notes.txt", "v2 from n2", { origin: "n2", base: { n1: 1 } })));
    expect(r.action).toBe("put");
    expect(readText(a.root, "notes.txt")).toBe("v2 from n2");
    const saved = a.events.find((e) => e.type === "local-edit-preserved");
    expect(saved?.type).toBe("local-edit-preserved");
    if (saved?.type !== "local-edit-preserved") throw new Error("unreachable");
    expect(saved.movedTo).toMatch(/^notes\.sync-conflict-\d{8}-\d{6}-a\.txt$/);
    expect(readText(a.root, saved.movedTo)).toBe("my local edit");

    // Same for a remote delete.
    writeFileSync(path.join(a.root, "notes.txt"), "edited again");
    await a.fsm.apply(log.add(del("notes.txt", a.index.get("notes.txt")!.clock, "n2")));
    expect(existsSync(path.join(a.root, "notes.txt"))).toBe(false);
    const kept = readdirSync(a.root).filter((n) => n.startsWith("notes.sync-conflict-"));
    expect(kept.map((n) => readText(a.root, n)).sort()).toEqual(["edited again", "my local edit"]);
  });

  test("an untracked local file where a remote file arrives is moved aside", async () => {
    const a = node("a");
    writeFileSync(path.join(a.root, "new.txt"), "mine, not proposed yet");
    const log = new Log();
    await a.fsm.apply(log.add(put("new.txt", "theirs", { origin: "n2" })));
    expect(readText(a.root, "new.txt")).toBe("theirs");
    const copies = readdirSync(a.root).filter((n) => n.startsWith("new.sync-conflict-"));
    expect(copies.map((n) => readText(a.root, n))).toEqual(["mine, not proposed yet"]);
  });

  test("on the origin node, a newer local edit of the same file is left in place for the next proposal", async () => {
    const a = node("a");
    const log = new Log();
    writeFileSync(path.join(a.root, "draft.txt"), "save 2"); // save 1 was proposed, save 2 happened since
    const r = await a.fsm.apply(log.add(put("draft.txt", "save 1", { origin: "a" })));
    expect(r.action).toBe("put");
    expect(readText(a.root, "draft.txt")).toBe("save 2");
    expect(a.index.get("draft.txt")!.hash).toBe(put("draft.txt", "save 1").hash);
    expect(a.index.getLocalStat("draft.txt")).toBeUndefined(); // so the scanner hashes and proposes save 2
    expect(readdirSync(a.root).filter((n) => n.includes("sync-conflict"))).toEqual([]);
  });

  test("hostile paths: rejected at decode, nothing written outside the folder", async () => {
    const a = node("a");
    const log = new Log();
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const evil = { ...put("x", "pwned"), path: "../escaped.txt" };
    const r = await a.fsm.apply(log.raw(packr.pack({ v: 1, cmd: evil })));
    expect(r.action).toBe("invalid");
    expect(r.detail).toContain("..");
    const state = { ...put("x", "pwned"), path: ".pickbox/state.db" };
    expect((await a.fsm.apply(log.raw(packr.pack({ v: 1, cmd: state })))).action).toBe("invalid");
    expect(existsSync(path.join(t.base, "escaped.txt"))).toBe(false);
    expect(a.fsm.appliedIndex()).toBe(2); // committed garbage is skipped identically everywhere
  });

  test("a symlink leading out of the folder is never written through; the index still follows the log", async () => {
    const a = node("a");
    const outside = path.join(t.base, "outside");
    mkdirSync(outside);
    symlinkSync(outside, path.join(a.root, "link"));
    const log = new Log();
    const r = await a.fsm.apply(log.add(put("link/x.txt", "through the link")));
    expect(readdirSync(outside)).toEqual([]);
    expect(r.detail).toMatch(/not written here/);
    expect(a.index.get("link/x.txt")?.deleted).toBe(false);
  });

  test("gc removes chunks that no entry references any more", async () => {
    const a = node("a");
    const log = new Log();
    await a.fsm.apply(log.add(put("g.txt", "garbage soon")));
    const h = a.index.get("g.txt")!.chunks[0]!;
    expect(a.chunks.has(h)).toBe(true);
    expect((await a.fsm.gc(0)).removed).toBe(0);
    await a.fsm.apply(log.add(del("g.txt", a.index.get("g.txt")!.clock)));
    expect((await a.fsm.gc(0)).removed).toBe(1);
    expect(a.chunks.has(h)).toBe(false);
  });

  test("events carry path, origin, size, hash and index", async () => {
    const a = node("a");
    const log = new Log();
    const cmd = put("ev.txt", "12345", { origin: "n9" });
    await a.fsm.apply(log.add(cmd));
    await a.fsm.apply(log.add(del("ev.txt", { n9: 1 }, "n9")));
    expect(a.events[0]).toMatchObject({
      type: "apply",
      op: "put",
      path: "ev.txt",
      origin: "n9",
      size: 5,
      hash: cmd.hash,
      index: 1,
    });
    expect(a.events[1]).toMatchObject({ type: "delete", path: "ev.txt", origin: "n9", index: 2 });
  });

  test("the leader's empty no-op entry advances the applied index", async () => {
    const a = node("a");
    const r = await a.fsm.apply({ term: 2, index: 1, type: 0, data: new Uint8Array(0) });
    expect(r.action).toBe("empty");
    expect(a.fsm.appliedIndex()).toBe(1);
  });
});
