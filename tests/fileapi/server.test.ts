// Every verb and every error code of the file API, against a real single-node cluster over real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { FileApiBackend } from "../../src/fileapi/backend.ts";
import { FileApiClient } from "../../src/fileapi/client.ts";
import type { FileApiError } from "../../src/fileapi/errors.ts";
import { type FileApiServer, startFileApi } from "../../src/fileapi/server.ts";
import { waitFor } from "../integration/helpers/cluster.ts";
import { errorCode, InProcessCluster } from "./harness.ts";
import { RawConnection } from "./raw-client.ts";

const enc = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const code = errorCode;

/** The real backend with some members replaced (prototype keeps the rest). */
function override(b: FileApiBackend, over: Partial<FileApiBackend>): FileApiBackend {
  return Object.assign(Object.create(b) as FileApiBackend, over);
}

let c: InProcessCluster;
let cl: FileApiClient;
const extra: FileApiServer[] = [];

beforeAll(async () => {
  c = await InProcessCluster.start(1);
  cl = await FileApiClient.connect(c.address());
}, 30_000);

afterAll(async () => {
  cl?.destroy();
  for (const s of extra) await s.close();
  await c?.destroy();
});

async function server(over: Partial<FileApiBackend>, limits = {}): Promise<FileApiServer> {
  const s = await startFileApi(override(c.nodes[0]!.backend, over), { port: 0, limits });
  extra.push(s);
  return s;
}

describe("verbs", () => {
  test("PING and INFO", async () => {
    await cl.ping();
    const i = await cl.info();
    expect(i.nodeId).toBe("node1");
    expect(i.role).toBe("leader");
    expect(i.leader).toBe("node1");
    expect(i.applied).toBeGreaterThan(0);
  });

  test("OPEN w + WRITE + CLOSE commits; the node's folder has the bytes; OPEN r + READ reads them", async () => {
    const { handle, size } = await cl.open("docs/hello.txt", "w");
    expect(size).toBe(0);
    expect(await cl.write(handle, 0, enc.encode("hello "))).toBe(6);
    expect(await cl.write(handle, 6, enc.encode("world"))).toBe(5);
    const done = await cl.close(handle);
    expect(done?.size).toBe(11);
    expect(done?.hash).toBe(new Bun.CryptoHasher("sha256").update("hello world").digest("hex"));
    // CLOSE replied only after the commit was applied here: the file is on disk already.
    expect(readFileSync(path.join(c.nodes[0]!.node.folder, "docs/hello.txt"), "utf8")).toBe("hello world");
    const r = await cl.open("docs/hello.txt", "r");
    expect(r.size).toBe(11);
    expect(r.version).toBe(done!.version);
    expect(text(await cl.read(r.handle, 6, 100))).toBe("world");
    expect((await cl.read(r.handle, 11, 10)).length).toBe(0);
    expect((await cl.read(r.handle, 500, 10)).length).toBe(0);
    expect(await cl.close(r.handle)).toBeNull();
  });

  test("binary payloads with newlines and NULs survive, including a 5 MiB multi-chunk file", async () => {
    const small = new Uint8Array([0, 10, 13, 0, 255, 10, 10, 0]);
    await cl.putFile("bin/small.bin", small);
    expect([...(await cl.readFile("bin/small.bin"))]).toEqual([...small]);
    const big = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    const info = await cl.putFile("bin/big.bin", big);
    expect(info.size).toBe(big.length);
    const back = await cl.readFile("bin/big.bin");
    expect(Buffer.compare(Buffer.from(back), Buffer.from(big))).toBe(0);
    // Random-access reads across chunk boundaries.
    const h = (await cl.open("bin/big.bin", "r")).handle;
    for (const [off, len] of [
      [0, 1],
      [65_535, 70_000],
      [3_000_000, 1_500_000],
      [big.length - 10, 100],
    ] as const) {
      const got = await cl.read(h, off, len);
      expect(Buffer.compare(Buffer.from(got), Buffer.from(big.subarray(off, off + len)))).toBe(0);
    }
    await cl.close(h);
  });

  test("a read handle keeps the version it opened while the file is replaced", async () => {
    await cl.putFile("pinned.txt", enc.encode("version one"));
    const r = await cl.open("pinned.txt", "r");
    await cl.putFile("pinned.txt", enc.encode("version two!"));
    expect(text(await cl.read(r.handle, 0, 100))).toBe("version one");
    await cl.close(r.handle);
    expect(text(await cl.readFile("pinned.txt"))).toBe("version two!");
  });

  test("mode a appends whatever the offset; mode rw edits in place; holes read as zeros", async () => {
    await cl.putFile("log.txt", enc.encode("one\n"));
    const a = await cl.open("log.txt", "a");
    expect(a.size).toBe(4);
    await cl.write(a.handle, 0, enc.encode("two\n"));
    await cl.close(a.handle);
    expect(text(await cl.readFile("log.txt"))).toBe("one\ntwo\n");
    const rw = await cl.open("log.txt", "rw");
    await cl.write(rw.handle, 0, enc.encode("ONE"));
    // Read-your-writes on a writable handle before the commit.
    expect(text(await cl.read(rw.handle, 0, 100))).toBe("ONE\ntwo\n");
    await cl.close(rw.handle);
    expect(text(await cl.readFile("log.txt"))).toBe("ONE\ntwo\n");
    const w = await cl.open("holes.bin", "w");
    await cl.write(w.handle, 4, enc.encode("x"));
    await cl.close(w.handle);
    expect([...(await cl.readFile("holes.bin"))]).toEqual([0, 0, 0, 0, 120]);
  });

  test("OPEN w and CLOSE without writes creates (or truncates to) an empty file", async () => {
    const h = await cl.open("empty.txt", "w");
    const done = await cl.close(h.handle);
    expect(done?.size).toBe(0);
    expect((await cl.stat("empty.txt")).size).toBe(0);
  });

  test("FSYNC commits without closing; the next CLOSE builds on it (no conflict with itself)", async () => {
    const h = await cl.open("journal.txt", "w");
    await cl.write(h.handle, 0, enc.encode("first"));
    const f = await cl.fsync(h.handle);
    const other = await FileApiClient.connect(c.address());
    expect(text(await other.readFile("journal.txt"))).toBe("first");
    await cl.write(h.handle, 5, enc.encode(" second"));
    const done = await cl.close(h.handle);
    expect(done!.version).toBeGreaterThan(f.version);
    expect(text(await other.readFile("journal.txt"))).toBe("first second");
    other.destroy();
  });

  test("ABORT discards the handle's writes", async () => {
    await cl.putFile("keep.txt", enc.encode("original"));
    const h = await cl.open("keep.txt", "w");
    await cl.write(h.handle, 0, enc.encode("discarded"));
    await cl.abort(h.handle);
    expect(text(await cl.readFile("keep.txt"))).toBe("original");
    expect(await code(cl.read(h.handle, 0, 1))).toBe("EBADF");
  });

  test("STAT, LIST (children, recursive, stale) and MKDIR", async () => {
    await cl.mkdir("tree/a/b");
    await cl.mkdir("tree/a/b"); // like mkdir -p: fine twice
    await cl.putFile("tree/a/b/leaf.txt", enc.encode("leaf"));
    await cl.putFile("tree/top.txt", enc.encode("top"));
    const st = await cl.stat("tree/a/b/leaf.txt");
    expect(st).toMatchObject({ kind: "file", size: 4, mode: 0o644, path: "tree/a/b/leaf.txt" });
    expect((await cl.stat("tree/a", { stale: true })).kind).toBe("dir");
    const children = await cl.list("tree");
    expect(children.entries.map((e) => `${e.kind}:${e.path}`)).toEqual(["dir:tree/a", "file:tree/top.txt"]);
    const all = await cl.list("tree", { recursive: true, stale: true });
    expect(all.entries.map((e) => e.path)).toEqual([
      "tree/a",
      "tree/a/b",
      "tree/a/b/leaf.txt",
      "tree/top.txt",
    ]);
    const root = await cl.list();
    expect(root.entries.some((e) => e.path === "tree")).toBe(true);
    expect(root.entries.every((e) => !e.path.includes("/"))).toBe(true);
  });

  test("names with spaces, percent signs and non-ASCII travel percent-encoded", async () => {
    const name = "odd names/a b%20c ünï €.txt";
    await cl.putFile(name, enc.encode("odd"));
    expect((await cl.stat(name)).path).toBe(name);
    expect((await cl.list("odd names")).entries[0]!.path).toBe(name);
    expect(readFileSync(path.join(c.nodes[0]!.node.folder, name), "utf8")).toBe("odd");
  });

  test("DELETE removes files and empty directories", async () => {
    await cl.putFile("gone/x.txt", enc.encode("x"));
    await cl.delete("gone/x.txt");
    expect(await code(cl.stat("gone/x.txt"))).toBe("ENOENT");
    await cl.delete("gone");
    expect(await code(cl.stat("gone"))).toBe("ENOENT");
  });

  test("RENAME moves a file (one entry: both names change together)", async () => {
    await cl.putFile("mv/src.txt", enc.encode("moving"));
    const before = await cl.stat("mv/src.txt");
    const r = await cl.rename("mv/src.txt", "mv/sub/dst.txt");
    expect(r.hash).toBe(before.hash);
    expect(await code(cl.stat("mv/src.txt"))).toBe("ENOENT");
    expect(text(await cl.readFile("mv/sub/dst.txt"))).toBe("moving");
    await waitFor(
      "the move on disk",
      () => readFileSync(path.join(c.nodes[0]!.node.folder, "mv/sub/dst.txt"), "utf8") === "moving",
    );
  });

  test("QUIT answers and closes", async () => {
    const raw = await RawConnection.connect(c.address());
    raw.send("QUIT\n");
    expect(await raw.line()).toBe("OK BYE");
    expect(await raw.closedByServer()).toBe(true);
  });
});

describe("wire format", () => {
  test("pipelined requests in one segment, a WRITE payload split byte by byte, CRLF lines, lower-case verbs", async () => {
    const raw = await RawConnection.connect(c.address());
    raw.send("ping\r\nOPEN wire.bin w\nINFO\n");
    expect(await raw.line()).toBe("OK PONG");
    expect(await raw.line()).toMatch(/^OK 1 0 \d+$/);
    expect(await raw.line()).toMatch(/^OK node1 leader node1 /);
    const payload = Buffer.from("a\nb\0c\n");
    raw.send(`WRITE 1 0 ${payload.length}\n`);
    for (const b of payload) raw.send(Buffer.from([b]));
    expect(await raw.line()).toBe(`OK ${payload.length}`);
    raw.send("CLOSE 1\nOPEN wire.bin r\nREAD 2 0 100\n");
    expect(await raw.line()).toMatch(/^OK 6 [0-9a-f]{64} \d+$/);
    expect(await raw.line()).toMatch(/^OK 2 6 \d+$/);
    expect(await raw.line()).toBe("OK 6");
    expect(Buffer.compare(await raw.bytes(6), payload)).toBe(0);
    raw.send("LIST / stale\n");
    const head = (await raw.line()).split(" ");
    expect(head[0]).toBe("OK");
    const body = (await raw.bytes(Number(head[1]))).toString();
    expect(body.split("\n").filter(Boolean).length).toBe(Number(head[2]));
    expect(body).toContain(" wire.bin\n");
    raw.destroy();
  });
});

describe("errors", () => {
  test("ENOENT", async () => {
    expect(await code(cl.open("missing.txt", "r"))).toBe("ENOENT");
    expect(await code(cl.stat("missing.txt"))).toBe("ENOENT");
    expect(await code(cl.delete("missing.txt"))).toBe("ENOENT");
    expect(await code(cl.rename("missing.txt", "x.txt"))).toBe("ENOENT");
    expect(await code(cl.list("missing-dir"))).toBe("ENOENT");
  });

  test("EBADF", async () => {
    expect(await code(cl.read(999, 0, 1))).toBe("EBADF");
    expect(await code(cl.close(999))).toBe("EBADF");
    expect(await code(cl.fsync(999))).toBe("EBADF");
    await cl.putFile("ro.txt", enc.encode("ro"));
    const r = await cl.open("ro.txt", "r");
    expect(await code(cl.write(r.handle, 0, enc.encode("no")))).toBe("EBADF");
    await cl.close(r.handle);
    expect(await code(cl.close(r.handle))).toBe("EBADF");
    // Handles belong to their connection.
    const w = await cl.open("mine.txt", "w");
    const other = await FileApiClient.connect(c.address());
    expect(await code(other.write(w.handle, 0, enc.encode("x")))).toBe("EBADF");
    other.destroy();
    await cl.abort(w.handle);
  });

  test("EINVAL: unknown verb, bad mode, bad numbers, wrong arity, empty line, bad escapes", async () => {
    const raw = await RawConnection.connect(c.address());
    for (const line of [
      "FROB x",
      "OPEN a.txt x",
      "OPEN a.txt",
      "READ 1 -1 5",
      "READ one 0 5",
      "STAT a b c",
      "",
      "STAT bad%zzescape",
      "LIST / sideways",
    ]) {
      raw.send(`${line}\n`);
      expect(await raw.line()).toMatch(/^ERR EINVAL /);
    }
    raw.send("PING\n"); // still usable
    expect(await raw.line()).toBe("OK PONG");
    // A WRITE whose length cannot be parsed leaves the payload boundary unknown: error, then close.
    raw.send("WRITE 1 0 lots\n");
    expect(await raw.line()).toMatch(/^ERR EINVAL /);
    expect(await raw.closedByServer()).toBe(true);
  });

  test("EISDIR and ENOTDIR", async () => {
    await cl.mkdir("adir");
    await cl.putFile("afile.txt", enc.encode("f"));
    expect(await code(cl.open("adir", "r"))).toBe("EISDIR");
    expect(await code(cl.open("adir", "w"))).toBe("EISDIR");
    expect(await code(cl.rename("adir", "bdir"))).toBe("EISDIR");
    expect(await code(cl.rename("afile.txt", "adir"))).toBe("EISDIR");
    expect(await code(cl.open("afile.txt/inner", "w"))).toBe("ENOTDIR");
    expect(await code(cl.list("afile.txt"))).toBe("ENOTDIR");
    expect(await code(cl.mkdir("afile.txt/sub"))).toBe("ENOTDIR");
  });

  test("ENOTEMPTY and EEXIST", async () => {
    await cl.putFile("full/x.txt", enc.encode("x"));
    expect(await code(cl.delete("full"))).toBe("ENOTEMPTY");
    expect(await code(cl.mkdir("full/x.txt"))).toBe("EEXIST");
  });

  test("EPATH for hostile paths", async () => {
    for (const p of [
      "../escape.txt",
      "/etc/passwd",
      ".pickbox/state.db",
      ".PICKBOX/x",
      "a/../../b",
      "c:/x",
    ]) {
      expect(await code(cl.open(p, "w"))).toBe("EPATH");
    }
    const raw = await RawConnection.connect(c.address());
    raw.send("OPEN bad%01name w\nSTAT %2e%2e/x\nSTAT %\n");
    expect(await raw.line()).toMatch(/^ERR EPATH /);
    expect(await raw.line()).toMatch(/^ERR EPATH /);
    expect(await raw.line()).toMatch(/^ERR EPATH /);
    raw.destroy();
  });

  test("ECONFLICT: a CLOSE based on a version replaced meanwhile keeps its bytes in a conflict copy", async () => {
    await cl.putFile("shared.txt", enc.encode("base"));
    const other = await FileApiClient.connect(c.address());
    const mine = await cl.open("shared.txt", "w");
    const theirs = await other.open("shared.txt", "w");
    await cl.write(mine.handle, 0, enc.encode("mine"));
    await other.write(theirs.handle, 0, enc.encode("theirs"));
    await other.close(theirs.handle); // commits first: takes the name
    let err: FileApiError | null = null;
    try {
      await cl.close(mine.handle);
    } catch (e) {
      err = e as FileApiError;
    }
    expect(err?.code).toBe("ECONFLICT");
    expect(err?.conflictPath).toMatch(/^shared\.sync-conflict-\d{8}-\d{6}-node1\.txt$/);
    expect(text(await cl.readFile("shared.txt"))).toBe("theirs");
    expect(text(await cl.readFile(err!.conflictPath!))).toBe("mine");
    // The handle is closed either way.
    expect(await code(cl.close(mine.handle))).toBe("EBADF");
    other.destroy();
  });

  test("ECONFLICT: a DELETE based on a replaced version is dropped (the edit wins, the file stays)", async () => {
    await cl.putFile("edited.txt", enc.encode("v1"));
    const real = c.nodes[0]!.backend;
    // This server saw the file before the edit below: its delete is based on an older version.
    const old = real.getEntry("edited.txt")!;
    await cl.putFile("edited.txt", enc.encode("v2"));
    const s = await server({ getEntry: (p: string) => (p === "edited.txt" ? old : real.getEntry(p)) });
    const u = await FileApiClient.connect(s.address);
    expect(await code(u.delete("edited.txt"))).toBe("ECONFLICT");
    expect(text(await cl.readFile("edited.txt"))).toBe("v2");
    u.destroy();
  });

  test("ETOOBIG: WRITE and READ over the limits (connection stays usable), file limit, long lines (closed)", async () => {
    const s = await server(
      {},
      { maxWriteBytes: 1024, maxReadBytes: 1024, maxFileBytes: 4096, maxLineBytes: 256 },
    );
    const raw = await RawConnection.connect(s.address);
    raw.send("OPEN big.txt w\n");
    expect(await raw.line()).toMatch(/^OK 1 /);
    raw.send(Buffer.concat([Buffer.from("WRITE 1 0 2000\n"), Buffer.alloc(2000, 97), Buffer.from("PING\n")]));
    expect(await raw.line()).toMatch(/^ERR ETOOBIG /);
    expect(await raw.line()).toBe("OK PONG"); // the oversized payload was skipped, not parsed as requests
    // The handle lost a WRITE: it can no longer be committed, only closed.
    raw.send("CLOSE 1\n");
    expect(await raw.line()).toMatch(/^ERR EIO nothing was committed: a WRITE on handle 1 failed \(ETOOBIG/);
    raw.send("OPEN big.txt w\n");
    expect(await raw.line()).toMatch(/^OK 2 /);
    raw.send(Buffer.concat([Buffer.from("WRITE 2 4000 200\n"), Buffer.alloc(200, 98)]));
    expect(await raw.line()).toMatch(/^ERR ETOOBIG /);
    raw.send("READ 2 0 5000\n");
    expect(await raw.line()).toMatch(/^ERR ETOOBIG /);
    raw.send(`STAT ${"x".repeat(300)}\n`);
    expect(await raw.line()).toMatch(/^ERR ETOOBIG /);
    expect(await raw.closedByServer()).toBe(true);
  });

  test("a handle with a failed WRITE is never committed, even by a CLOSE sent right behind it", async () => {
    await cl.putFile("kept.txt", enc.encode("the old content"));
    const s = await server({}, { maxFileBytes: 4096 });
    const raw = await RawConnection.connect(s.address);
    // OPEN w truncates: had the CLOSE committed, the old content would be gone.
    raw.send(
      Buffer.concat([
        Buffer.from("OPEN kept.txt w\nWRITE 1 0 5\nfirst"),
        Buffer.from("WRITE 1 4094 5\n"),
        Buffer.from("over!"),
        Buffer.from("WRITE 1 5 4\nmore"),
        Buffer.from("FSYNC 1\nCLOSE 1\nCLOSE 1\n"),
      ]),
    );
    expect(await raw.line()).toMatch(/^OK 1 0 /);
    expect(await raw.line()).toBe("OK 5");
    expect(await raw.line()).toMatch(/^ERR ETOOBIG /);
    expect(await raw.line()).toMatch(
      /^ERR EIO nothing was committed: a WRITE on handle 1 failed .*ABORT or CLOSE/,
    );
    expect(await raw.line()).toMatch(/^ERR EIO nothing was committed: .*ABORT or CLOSE/); // FSYNC
    expect(await raw.line()).toMatch(/^ERR EIO nothing was committed: .*the handle is closed/);
    expect(await raw.line()).toMatch(/^ERR EBADF /); // it is gone
    expect(text(await cl.readFile("kept.txt"))).toBe("the old content");
    // ABORT of such a handle is fine too.
    raw.send(Buffer.concat([Buffer.from("OPEN kept.txt w\nWRITE 2 4094 5\nover!ABORT 2\n")]));
    expect(await raw.line()).toMatch(/^OK 2 0 /);
    expect(await raw.line()).toMatch(/^ERR ETOOBIG /);
    expect(await raw.line()).toBe("OK");
    raw.socket.destroy();
  });

  test("handles are numbered 1, 2, 3... by successful OPENs: a failed OPEN takes no number", async () => {
    await cl.putFile("numbered/a.txt", enc.encode("a"));
    const raw = await RawConnection.connect(c.address());
    raw.send("OPEN numbered/missing.txt r\nOPEN numbered w\nOPEN numbered/a.txt r\nOPEN numbered/a.txt q\n");
    expect(await raw.line()).toMatch(/^ERR ENOENT /);
    expect(await raw.line()).toMatch(/^ERR EISDIR /);
    expect(await raw.line()).toMatch(/^OK 1 1 /);
    expect(await raw.line()).toMatch(/^ERR EINVAL /);
    raw.send("OPEN numbered/b.txt w\nCLOSE 2\n");
    expect(await raw.line()).toMatch(/^OK 2 0 /);
    expect(await raw.line()).toMatch(/^OK 0 /);
    raw.socket.destroy();
  });

  test("ELIMIT: handles per connection and connections per server", async () => {
    const s = await server({}, { maxHandlesPerConnection: 2, maxConnections: 2 });
    const a = await FileApiClient.connect(s.address);
    await a.open("l1.txt", "w");
    await a.open("l2.txt", "w");
    expect(await code(a.open("l3.txt", "w"))).toBe("ELIMIT");
    const b = await FileApiClient.connect(s.address);
    await b.ping();
    const raw = await RawConnection.connect(s.address);
    expect(await raw.line()).toMatch(/^ERR ELIMIT too many connections/);
    expect(await raw.closedByServer()).toBe(true);
    a.destroy();
    b.destroy();
  });

  test("EUNAVAILABLE when no linearizable read is possible; stale reads still work", async () => {
    const s = await server({
      readBarrier: () => Promise.reject(new Error("read index timed out (no leader?)")),
    });
    const u = await FileApiClient.connect(s.address);
    await cl.putFile("avail.txt", enc.encode("here"));
    expect(await code(u.open("avail.txt", "r"))).toBe("EUNAVAILABLE");
    expect(await code(u.stat("avail.txt"))).toBe("EUNAVAILABLE");
    expect(await code(u.delete("avail.txt"))).toBe("EUNAVAILABLE");
    expect(text(await u.readFile("avail.txt", { stale: true }))).toBe("here");
    expect((await u.stat("avail.txt", { stale: true })).size).toBe(4);
    u.destroy();
  });

  test("ETIMEDOUT when a commit's outcome is unknown; the handle stays open and a later CLOSE succeeds", async () => {
    let failing = true;
    const real = c.nodes[0]!.backend;
    const s = await server({
      propose: (d: Uint8Array) =>
        failing
          ? Promise.reject(new Error("proposal not acknowledged before the deadline"))
          : real.propose(d),
    });
    const u = await FileApiClient.connect(s.address);
    const h = await u.open("retry.txt", "w");
    await u.write(h.handle, 0, enc.encode("eventually"));
    expect(await code(u.close(h.handle))).toBe("ETIMEDOUT");
    failing = false;
    expect((await u.close(h.handle))?.size).toBe(10);
    expect(text(await cl.readFile("retry.txt"))).toBe("eventually");
    u.destroy();
  });

  test("ESTALE when the pinned version's chunks are gone", async () => {
    await cl.putFile("stale.txt", enc.encode("bytes"));
    const s = await server({ readChunk: async () => null, chunkSize: () => null });
    const u = await FileApiClient.connect(s.address);
    const h = await u.open("stale.txt", "r");
    expect(await code(u.read(h.handle, 0, 5))).toBe("ESTALE");
    u.destroy();
  });

  test("ETIMEDOUT: an idle connection is told and closed", async () => {
    const s = await server({}, { idleTimeoutMs: 150 });
    const raw = await RawConnection.connect(s.address);
    expect(await raw.line()).toMatch(/^ERR ETIMEDOUT idle/);
    expect(await raw.closedByServer()).toBe(true);
  });
});

describe("conflict naming (file-fsm.ts)", () => {
  // Two conflicting commits of one path from one node within one second once got the same copy name and
  // the second overwrote the first. The FSM now picks the next free name (…-node-2.ext), identically on
  // every node.
  test("two conflicting CLOSEs from one node in one second both keep their bytes", async () => {
    const s = await startFileApi(c.nodes[0]!.backend, { port: 0, now: () => 1_800_000_000_000 });
    extra.push(s);
    const [a, b, w] = await Promise.all([0, 1, 2].map(() => FileApiClient.connect(s.address)));
    await w!.putFile("same-second.txt", enc.encode("base"));
    const ha = await a!.open("same-second.txt", "w");
    const hb = await b!.open("same-second.txt", "w");
    await a!.write(ha.handle, 0, enc.encode("A's bytes"));
    await b!.write(hb.handle, 0, enc.encode("B's bytes"));
    await w!.putFile("same-second.txt", enc.encode("winner"));
    const ea = (await a!.close(ha.handle).catch((e) => e)) as FileApiError;
    const eb = (await b!.close(hb.handle).catch((e) => e)) as FileApiError;
    expect([ea.code, eb.code]).toEqual(["ECONFLICT", "ECONFLICT"]);
    const kept = await Promise.all([ea, eb].map(async (e) => text(await w!.readFile(e.conflictPath!))));
    for (const cl of [a, b, w]) cl!.destroy();
    expect(kept).toEqual(["A's bytes", "B's bytes"]);
  });
});
