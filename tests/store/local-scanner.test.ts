import { describe, expect, test } from "bun:test";
import {
  appendFileSync,
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { sha256Hex } from "../../src/store/chunker.ts";
import { encodeCommand, type PutCommand } from "../../src/store/commands.ts";
import { FileHasher, type WholeFileHash } from "../../src/store/file-hasher.ts";
import { openForWriting } from "../../src/store/file-lease.ts";
import {
  type ChunkPlacement,
  LocalScanner,
  ScanRaceError,
  type ScanResult,
  WRITER_POLL_MS,
  WRITER_WAIT_MS,
} from "../../src/store/local-scanner.ts";
import { STAGE_MIN_BYTES } from "../../src/store/push-staging.ts";
import { folderState, Log, put, type TestNode, testNodesPerTest } from "./fsm-fixture.ts";
import { rejectionOf } from "./rejection-of.ts";

const t = testNodesPerTest();
const node = t.node;

function scannerOf(n: TestNode, inlineLimit?: number): LocalScanner {
  return new LocalScanner({ root: n.root, nodeId: n.id, index: n.index, chunks: n.chunks, inlineLimit });
}

/** Commits a scan result through the FSM, as the node would after raft agreed. */
async function commit(n: TestNode, log: Log, r: ScanResult | null): Promise<void> {
  if (!r) throw new Error("expected a proposal");
  await n.fsm.apply(log.add(r.command));
}

function asPut(r: ScanResult | null): PutCommand {
  if (r?.command.op !== "put") throw new Error(`expected a put, got ${JSON.stringify(r?.command.op)}`);
  return r.command;
}

describe("LocalScanner", () => {
  test("a new file becomes a put with inline bytes; once committed, rescans are echoes", async () => {
    const a = node("a");
    const s = scannerOf(a);
    const log = new Log();
    writeFileSync(path.join(a.root, "hello.txt"), "hello\n");
    chmodSync(path.join(a.root, "hello.txt"), 0o640); // explicit: independent of the umask
    const r = await s.scan("hello.txt");
    const cmd = asPut(r);
    expect(cmd).toMatchObject({ path: "hello.txt", size: 6, base: {}, origin: "a", mode: 0o640 });
    expect(cmd.hash).toBe(sha256Hex(new TextEncoder().encode("hello\n")));
    expect(cmd.inline.map((c) => c.hash)).toEqual(cmd.chunks);
    expect(r!.missingChunks).toEqual([]);
    const inoBefore = statSync(path.join(a.root, "hello.txt")).ino;
    await commit(a, log, r);
    // The origin's file already had these bytes: it is not rewritten, and the rescan is an echo.
    expect(statSync(path.join(a.root, "hello.txt")).ino).toBe(inoBefore);
    expect(await s.scan("hello.txt")).toBeNull();
    // A touch (new mtime, same bytes) is not a change either, and the new stat is remembered.
    utimesSync(path.join(a.root, "hello.txt"), new Date(1e12), new Date(1e12));
    expect(await s.scan("hello.txt")).toBeNull();
    expect(a.index.getLocalStat("hello.txt")?.mtimeMs).toBe(1e12);
  });

  test("knownHash: the hash of what was proposed, while the file's stat is unchanged", async () => {
    const a = node("a");
    const s = scannerOf(a);
    const abs = path.join(a.root, "k.txt");
    writeFileSync(abs, "version one");
    const old = new Date(Date.now() - 60_000);
    utimesSync(abs, old, old); // written a minute ago: its mtime cannot be shared by a later save
    const cmd = asPut(await s.scan("k.txt"));
    const st = statSync(abs);
    expect(s.knownHash("k.txt", st)).toBe(cmd.hash);
    expect(s.knownHash("other.txt", st)).toBeUndefined();
    writeFileSync(abs, "version two, longer");
    expect(s.knownHash("k.txt", statSync(abs))).toBeUndefined();
    // An mtime not older than the hash by a timestamp tick: "racily clean", not trusted (the FSM hashes
    // the file itself). A future mtime makes that independent of how fast this machine runs the scan.
    const soon = new Date(Date.now() + 5_000);
    utimesSync(abs, soon, soon);
    const fresh = asPut(await s.scan("k.txt"));
    expect(fresh.hash).not.toBe(cmd.hash);
    expect(s.knownHash("k.txt", statSync(abs))).toBeUndefined();
  });

  test("a file materialised from another node is not proposed back", async () => {
    const b = node("b");
    const log = new Log();
    await b.fsm.apply(log.add(put("remote.txt", "from n1", { origin: "n1" })));
    await b.fsm.apply(log.add(put("dir/remote2.txt", "from n1 too", { origin: "n1" })));
    const s = scannerOf(b);
    expect(await s.scan("remote.txt")).toBeNull();
    expect(await s.scan("dir/remote2.txt")).toBeNull();
    expect(await s.scan("dir")).toBeNull();
    expect(await s.scanAll()).toEqual([]);
  });

  test("append, truncate and mode change are detected, based on the committed clock", async () => {
    const a = node("a");
    const s = scannerOf(a);
    const log = new Log();
    const f = path.join(a.root, "log.txt");
    writeFileSync(f, "line 1\n");
    await commit(a, log, await s.scan("log.txt"));
    const c1 = a.index.get("log.txt")!.clock;

    appendFileSync(f, "line 2\n");
    const app = asPut(await s.scan("log.txt"));
    expect(app.size).toBe(14);
    expect(app.base).toEqual(c1);
    await commit(a, log, { command: app, missingChunks: [] });

    truncateSync(f, 3);
    const tr = asPut(await s.scan("log.txt"));
    expect(tr.size).toBe(3);
    await commit(a, log, { command: tr, missingChunks: [] });

    chmodSync(f, 0o600);
    const md = asPut(await s.scan("log.txt"));
    expect(md.mode).toBe(0o600);
    expect(md.hash).toBe(tr.hash);
    expect(md.inline).toEqual([]); // the bytes are already in the cluster
    await commit(a, log, { command: md, missingChunks: [] });
    expect(a.index.get("log.txt")!.mode).toBe(0o600);
    expect(await s.scan("log.txt")).toBeNull();
  });

  test("deleted files and directories become delete and rmdir; new directories become mkdir", async () => {
    const a = node("a");
    const s = scannerOf(a);
    const log = new Log();
    mkdirSync(path.join(a.root, "d"), { mode: 0o755 });
    chmodSync(path.join(a.root, "d"), 0o750);
    const mk = await s.scan("d");
    expect(mk?.command).toEqual({ op: "mkdir", path: "d", mode: 0o750, base: {}, origin: "a" });
    await commit(a, log, mk);
    writeFileSync(path.join(a.root, "d/f"), "f");
    await commit(a, log, await s.scan("d/f"));

    unlinkSync(path.join(a.root, "d/f"));
    const dl = await s.scan("d/f");
    expect(dl?.command).toMatchObject({
      op: "delete",
      path: "d/f",
      base: a.index.get("d/f")!.clock,
      origin: "a",
    });
    await commit(a, log, dl);
    rmdirSync(path.join(a.root, "d"));
    const rd = await s.scan("d");
    expect(rd?.command).toEqual({ op: "rmdir", path: "d", base: a.index.get("d")!.clock, origin: "a" });
    await commit(a, log, rd);
    expect(a.index.get("d")?.deleted).toBe(true);
    expect(await s.scan("d")).toBeNull();
    expect(await s.scan("never-existed")).toBeNull();
  });

  test("symlinks and .pickbox are never proposed", async () => {
    const a = node("a");
    const s = scannerOf(a);
    writeFileSync(path.join(t.base, "outside.txt"), "secret");
    symlinkSync(path.join(t.base, "outside.txt"), path.join(a.root, "link.txt"));
    symlinkSync(t.base, path.join(a.root, "linkdir"));
    expect(await s.scan("link.txt")).toBeNull();
    expect(await s.scan("linkdir/outside.txt")).toBeNull();
    expect(await s.scan(".pickbox/state.db")).toBeNull();
    expect(await s.scanAll()).toEqual([]);
  });

  test("new bytes beyond the inline limit are stored locally and listed as missing", async () => {
    const a = node("a");
    const s = scannerOf(a, 64 * 1024);
    const big = new Uint8Array(600_000).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(path.join(a.root, "big.bin"), big);
    const r = await s.scan("big.bin");
    const cmd = asPut(r);
    expect(cmd.inline).toEqual([]);
    expect(new Set(r!.missingChunks)).toEqual(new Set(cmd.chunks));
    for (const h of cmd.chunks) expect(a.chunks.has(h)).toBe(true);
    // Committed elsewhere: the chunks are found locally, nothing is fetched.
    await a.fsm.apply(new Log().add(cmd));
    expect(a.fetched).toEqual([]);
  });

  test("scanAll at startup proposes everything in the folder and, once committed, nothing more", async () => {
    const a = node("a");
    const s = scannerOf(a);
    mkdirSync(path.join(a.root, "docs/sub"), { recursive: true });
    writeFileSync(path.join(a.root, "docs/sub/a.md"), "a");
    writeFileSync(path.join(a.root, "top.txt"), "top");
    writeFileSync(path.join(a.root, ".pickbox/ignored"), "state");
    const all = await s.scanAll();
    expect(all.map((r) => `${r.command.op} ${"path" in r.command ? r.command.path : ""}`)).toEqual([
      "mkdir docs",
      "mkdir docs/sub",
      "put docs/sub/a.md",
      "put top.txt",
    ]);
    const log = new Log();
    await a.fsm.apply(log.add(all.map((r) => r.command)));
    expect(await s.scanAll()).toEqual([]);

    // A lost watcher event: the reconcile pass finds the deletion, children before their directory.
    unlinkSync(path.join(a.root, "docs/sub/a.md"));
    rmdirSync(path.join(a.root, "docs/sub"));
    const again = await s.scanAll();
    expect(again.map((r) => `${r.command.op} ${"path" in r.command ? r.command.path : ""}`)).toEqual([
      "delete docs/sub/a.md",
      "rmdir docs/sub",
    ]);
  });

  test("a change proposed by a scanner and applied on two nodes leaves both folders identical", async () => {
    const a = node("a");
    const b = node("b");
    const log = new Log();
    writeFileSync(path.join(a.root, "shared.txt"), "v1");
    const r = await scannerOf(a).scan("shared.txt");
    const e = log.add(r!.command);
    await a.fsm.apply(e);
    await b.fsm.apply(e);
    expect(folderState(b.root)).toEqual(folderState(a.root));
    expect(await scannerOf(a).scan("shared.txt")).toBeNull();
    expect(await scannerOf(b).scan("shared.txt")).toBeNull();
  });

  test("a large file edited in place is rescanned against its previous version: same proposal, only the edited chunks new", async () => {
    const a = node("a");
    const log = new Log();
    const file = path.join(a.root, "big.bin");
    const data = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(file, data);
    await commit(a, log, await scannerOf(a).scan("big.bin"));
    const edited = data.slice();
    edited.set(new Uint8Array(4096).fill(7), 2 * 1024 * 1024);
    writeFileSync(file, edited);
    // The scan reads no chunk bytes back from the store: it hashes the file's bytes where chunks began.
    let storeReads = 0;
    const chunks = a.chunks;
    const counting = new Proxy(chunks, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          if (prop === "get" || prop === "readRun") storeReads++;
          return v.apply(target, args);
        };
      },
    });
    const s = new LocalScanner({
      root: a.root,
      nodeId: a.id,
      index: a.index,
      chunks: counting,
      inlineLimit: 0,
    });
    const cmd = asPut(await s.scan("big.bin"));
    const prev = a.index.get("big.bin")!;
    expect(cmd.hash).toBe(sha256Hex(edited));
    expect(cmd.size).toBe(edited.length);
    expect(storeReads).toBe(0);
    // Only the chunks around the edit are new; every other one is the previous version's.
    const fresh = cmd.chunks.filter((h) => !prev.chunks.includes(h));
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.length).toBeLessThanOrEqual(3);
    // And the result is what a scan without any previous version gives.
    const b = node("b");
    writeFileSync(path.join(b.root, "big.bin"), edited);
    expect(asPut(await scannerOf(b).scan("big.bin")).chunks).toEqual(cmd.chunks);
  });

  test("a large file's whole-file hash comes from hashFile (beside the scan); a size it disagrees on is a race", async () => {
    const a = node("a");
    const data = new Uint8Array(5 << 20).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(path.join(a.root, "big.bin"), data);
    const asked: string[] = [];
    const hasher = new FileHasher();
    const scanner = (hashFile: (abs: string) => Promise<WholeFileHash>) =>
      new LocalScanner({ root: a.root, nodeId: a.id, index: a.index, chunks: a.chunks, hashFile });
    try {
      const cmd = asPut(
        await scanner((abs) => {
          asked.push(abs);
          return hasher.hash(abs);
        }).scan("big.bin"),
      );
      expect(asked).toEqual([path.join(a.root, "big.bin")]);
      expect(cmd.hash).toBe(sha256Hex(data));
      expect(cmd.size).toBe(data.length);
      // The worker saw another length than the scan did: the file changed between the two reads.
      expect(
        await rejectionOf(
          scanner(async (abs) => ({ ...(await hasher.hash(abs)), size: data.length - 1 })).scan("big.bin"),
        ),
      ).toBeInstanceOf(ScanRaceError);
      // A small file is hashed in the scan itself.
      writeFileSync(path.join(a.root, "small.txt"), "x");
      asked.length = 0;
      expect(
        asPut(
          await scanner(async () => {
            throw new Error("not for small files");
          }).scan("small.txt"),
        ).hash,
      ).toBe(sha256Hex(new TextEncoder().encode("x")));
    } finally {
      hasher.close();
    }
  });
  test("a large file that grows during the growth probe is left for the writer's next event: nothing read or stored", async () => {
    const a = node("a");
    const file = path.join(a.root, "growing.bin");
    const first = new Uint8Array(5 << 20).map((_, i) => (i * 40503) >>> 8);
    writeFileSync(file, first);
    let probes = 0;
    const hashed: string[] = [];
    const scanner = (grow: boolean) =>
      new LocalScanner({
        root: a.root,
        nodeId: a.id,
        index: a.index,
        chunks: a.chunks,
        hashFile: async (abs) => {
          hashed.push(abs);
          return {
            hash: sha256Hex(new Uint8Array(await Bun.file(abs).arrayBuffer())),
            size: statSync(abs).size,
          };
        },
        growthProbe: async () => {
          probes++;
          if (grow) appendFileSync(file, new Uint8Array(1 << 20)); // the writer is still at it
        },
      });
    await expect(scanner(true).scan("growing.bin")).rejects.toThrow(ScanRaceError);
    expect(probes).toBe(1);
    expect(hashed).toEqual([]);
    expect(a.chunks.stats().chunks).toBe(0);
    // Once the writer is done, the next scan reads it whole.
    const cmd = asPut(await scanner(false).scan("growing.bin"));
    expect(probes).toBe(2);
    expect(cmd.size).toBe(first.length + (1 << 20));
    // A small file is read at once, without a probe.
    writeFileSync(path.join(a.root, "small.txt"), "x");
    asPut(await scanner(true).scan("small.txt"));
    expect(probes).toBe(2);
  });

  test("a large file open for writing is left for its writer's next event, up to WRITER_WAIT_MS; real leases see a real writer", async () => {
    const a = node("a");
    const file = path.join(a.root, "big.bin");
    writeFileSync(file, new Uint8Array(5 << 20).fill(1));
    writeFileSync(path.join(a.root, "small.txt"), "x");
    let now = 0;
    let open = true;
    const asked: string[] = [];
    const s = new LocalScanner({
      root: a.root,
      nodeId: a.id,
      index: a.index,
      chunks: a.chunks,
      openForWriting: (abs) => {
        asked.push(path.basename(abs));
        return open;
      },
      now: () => now,
    });
    const writing = await rejectionOf(s.scan("big.bin"));
    expect(writing).toBeInstanceOf(ScanRaceError);
    expect(writing.message).toMatch(/open for writing/);
    // Closing the file is nothing the watcher reports: the pipeline polls for it, sooner than other races.
    expect((writing as ScanRaceError).retryAfterMs).toBe(WRITER_POLL_MS);
    now += WRITER_WAIT_MS - 1;
    await expect(s.scan("big.bin")).rejects.toThrow(ScanRaceError);
    expect(a.chunks.stats().chunks).toBe(0); // nothing read or stored meanwhile
    // Open for writing that long (a log a daemon keeps open): scanned as it is.
    now += 1;
    expect(asPut(await s.scan("big.bin")).size).toBe(5 << 20);
    // Small files are not asked about; a writer that closes lets the scan through at once.
    asPut(await s.scan("small.txt"));
    expect(asked.filter((n) => n === "small.txt")).toEqual([]);
    writeFileSync(file, new Uint8Array(5 << 20).fill(2));
    open = false;
    expect(asPut(await s.scan("big.bin")).hash).toBe(sha256Hex(new Uint8Array(5 << 20).fill(2)));

    // The node's real check, through a file lease: a descriptor open for writing is seen, a closed one not.
    const fd = openSync(file, "r+");
    try {
      expect(openForWriting(file)).toBe(true);
    } finally {
      closeSync(fd);
    }
    expect(openForWriting(file)).toBe(false);
    expect(openForWriting(path.join(a.root, "missing.bin"))).toBeNull();
  });

  test("a large file's stored chunks reach the sink with their offsets and one stage id per scan; small files' without", async () => {
    const a = node("a");
    const file = path.join(a.root, "big.bin");
    const data = new Uint8Array(9 << 20).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(file, data);
    let content = data;
    const got: { file: string; size: number; hashes: string[]; stage?: string; offsets?: number[] }[] = [];
    const sink = {
      add: async (
        f: string,
        size: number,
        chunks: { hash: string; data: Uint8Array }[],
        placement?: ChunkPlacement,
      ) => {
        for (const [i, c] of chunks.entries()) {
          // Each chunk is exactly the file's bytes at its offset.
          const at = placement?.offsets[i];
          if (at !== undefined) expect(sha256Hex(content.subarray(at, at + c.data.length))).toBe(c.hash);
        }
        got.push({
          file: f,
          size,
          hashes: chunks.map((c) => c.hash),
          stage: placement?.stage,
          offsets: placement?.offsets,
        });
      },
    };
    const s = scannerOf(a, 0);
    const cmd = asPut(await s.scan("big.bin", sink));
    expect(got.length).toBeGreaterThan(1);
    expect(new Set(got.map((g) => g.stage)).size).toBe(1);
    expect(got[0]!.stage).toMatch(/^a:/);
    expect(got.flatMap((g) => g.hashes)).toEqual(cmd.chunks); // all new and distinct here, in order
    expect(got.flatMap((g) => g.offsets)[0]).toBe(0);
    // A rescan is a new stage.
    content = data.map((b) => b ^ 1);
    writeFileSync(file, content);
    await s.scan("big.bin", sink);
    expect(new Set(got.map((g) => g.stage)).size).toBe(2);
    // Below STAGE_MIN_BYTES: no placement.
    const before = got.length;
    content = data.subarray(0, STAGE_MIN_BYTES - 1).map((b) => b ^ 2);
    writeFileSync(path.join(a.root, "mid.bin"), content);
    await s.scan("mid.bin", sink);
    expect(got.slice(before).every((g) => g.stage === undefined)).toBe(true);
    expect(got.length).toBeGreaterThan(before);
  });

  test("a new large file is cut and hashed on the worker (FileHasher.chunks): the same proposal as on this thread", async () => {
    const a = node("a");
    const b = node("b");
    const data = new Uint8Array(9 << 20).map((_, i) => (i * 2246822519) >>> 24);
    for (const n of [a, b]) {
      writeFileSync(path.join(n.root, "big.bin"), data);
      utimesSync(path.join(n.root, "big.bin"), new Date(1e12), new Date(1e12));
    }
    const hasher = new FileHasher();
    try {
      let onWorker = 0;
      const withWorker = new LocalScanner({
        root: a.root,
        nodeId: "n",
        index: a.index,
        chunks: a.chunks,
        inlineLimit: 0,
        hashFile: (abs) => hasher.hash(abs),
        chunkFile: (abs) => {
          onWorker++;
          return hasher.chunks(abs);
        },
      });
      const here = new LocalScanner({
        root: b.root,
        nodeId: "n",
        index: b.index,
        chunks: b.chunks,
        inlineLimit: 0,
      });
      const r = await withWorker.scan("big.bin");
      const cmd = asPut(r);
      const plain = asPut(await here.scan("big.bin"));
      expect(onWorker).toBe(1);
      expect(hasher.onWorker).toBe(true);
      expect({ ...cmd, seq: 0 }).toEqual({ ...plain, seq: 0 });
      expect(cmd.hash).toBe(sha256Hex(data));
      // The stored chunks are the file's bytes.
      for (const h of r!.missingChunks) expect(sha256Hex((await a.chunks.get(h))!)).toBe(h);
      // A later edit is a delta scan against the stored version: not the worker's cutting.
      const log = new Log();
      await commit(a, log, r);
      data[5_000_000] = data[5_000_000]! ^ 0xff;
      writeFileSync(path.join(a.root, "big.bin"), data);
      expect(asPut(await withWorker.scan("big.bin")).hash).toBe(sha256Hex(data));
      expect(onWorker).toBe(1);
    } finally {
      hasher.close();
    }
  });

  test("an edit of a large file travels as deltas of the previous chunks: a node with them rebuilds it, one without fetches", async () => {
    const peers = new Map<string, Uint8Array>();
    const a = node("a", peers);
    const b = node("b", peers);
    const c = node("c", peers);
    const log = new Log();
    const file = path.join(a.root, "big.bin");
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(file, data);
    const first = await scannerOf(a).scan("big.bin");
    // Its chunks went out of band: a stored them, the "peers" serve them to b.
    for (const h of first!.missingChunks) peers.set(h, (await a.chunks.get(h))!);
    const e1 = log.add(first!.command);
    await a.fsm.apply(e1);
    await b.fsm.apply(e1);
    const edited = data.slice();
    edited.set(new Uint8Array(4096).fill(7), 1_500_000);
    writeFileSync(file, edited);
    const cmd = asPut(await scannerOf(a).scan("big.bin"));
    expect(cmd.deltas?.length).toBeGreaterThan(0);
    expect(cmd.inline).toEqual([]);
    const carried = cmd.deltas!.reduce((n, d) => n + d.middle.length, 0);
    expect(carried).toBeLessThanOrEqual(2 * 4096); // the edit, not the chunks around it
    expect(encodeCommand(cmd).length).toBeLessThan(carried + 40_000); // and the chunk list
    const e2 = log.add(cmd);
    await a.fsm.apply(e2);
    const fetchedBefore = b.fetched.length;
    await b.fsm.apply(e2);
    expect(sha256Hex(readFileSync(path.join(b.root, "big.bin")))).toBe(sha256Hex(edited));
    expect(b.fetched.length).toBe(fetchedBefore); // rebuilt from its own chunks: nothing fetched
    // c lost the base chunks (a power cut took them, say): it fetches the edited chunks instead.
    for (const d of cmd.deltas!) peers.set(d.hash, (await a.chunks.get(d.hash))!);
    await c.fsm.apply(e1);
    for (const d of cmd.deltas!) await c.chunks.delete(d.base);
    await c.fsm.apply(e2);
    expect(sha256Hex(readFileSync(path.join(c.root, "big.bin")))).toBe(sha256Hex(edited));
    expect(c.fetched.flat()).toContain(cmd.deltas![0]!.hash);
  });
});
