// Test fixture: a node's folder with its state (index in state.db, chunk store) under .pickbox/, a FileFSM
// over it, and helpers to build commands and compare folders.
import { Database } from "bun:sqlite";
import { afterEach, beforeEach } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Entry } from "../../src/raft/types.ts";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { type Chunk, chunkBytes, sha256Hex } from "../../src/store/chunker.ts";
import { encodeCommand, type LeafCommand, type PutCommand } from "../../src/store/commands.ts";
import { FileFSM, type FileFsmDeps } from "../../src/store/file-fsm.ts";
import { FileIndex } from "../../src/store/file-index.ts";
import { type FsmEvent, FsmEvents } from "../../src/store/fsm-events.ts";
import type { VectorClock } from "../../src/store/vector-clock.ts";

export interface TestNode {
  id: string;
  root: string;
  db: Database;
  index: FileIndex;
  chunks: ChunkStore;
  fsm: FileFSM;
  events: FsmEvent[];
  fetched: string[][];
  close(): void;
}

export function tempDir(prefix = "pickbox-fsm-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Chunks any test node may fetch "from a peer" (tests register out-of-band chunks here). */
export type PeerChunks = Map<string, Uint8Array>;

/**
 * The per-test lifecycle of FSM tests: a fresh temp dir before each test, nodes made in it, all closed and
 * the dir removed after it. Call once at the top of a test file.
 */
export function testNodesPerTest(): {
  node: (id: string, peers?: PeerChunks) => TestNode;
  /** Closes a node opened some other way (e.g. openNode) with the others. */
  track: (n: TestNode) => TestNode;
  readonly base: string;
} {
  let base = "";
  const nodes: TestNode[] = [];
  beforeEach(() => {
    base = tempDir();
  });
  afterEach(() => {
    for (const n of nodes.splice(0)) n.close();
    removeDir(base);
  });
  return {
    node: (id, peers) => {
      const n = makeNode(base, id, peers);
      nodes.push(n);
      return n;
    },
    track: (n) => {
      nodes.push(n);
      return n;
    },
    get base() {
      return base;
    },
  };
}

export function makeNode(base: string, id: string, peers: PeerChunks = new Map()): TestNode {
  const root = path.join(base, id);
  mkdirSync(path.join(root, ".pickbox"), { recursive: true });
  return openNode(root, id, peers);
}

/** Opens (or reopens after a "crash") the node whose folder is `root`. */
export function openNode(
  root: string,
  id: string,
  peers: PeerChunks = new Map(),
  given?: Database,
  bootId = "boot-1",
  extra: Partial<FileFsmDeps> = {},
): TestNode {
  const db = given ?? new Database(path.join(root, ".pickbox", "state.db"));
  if (!given) db.exec("PRAGMA journal_mode = WAL");
  const index = new FileIndex(db);
  const chunks = new ChunkStore(path.join(root, ".pickbox", "chunks"), { db });
  const events = new FsmEvents();
  const seen: FsmEvent[] = [];
  events.onAny((e) => seen.push(e));
  const fetched: string[][] = [];
  const fsm = new FileFSM({
    root,
    nodeId: id,
    index,
    chunks,
    events,
    clock: () => 0,
    bootId,
    fetchChunks: async (hashes) => {
      fetched.push(hashes);
      return hashes.flatMap((h): Chunk[] => {
        const d = peers.get(h);
        return d ? [{ hash: h, data: d }] : [];
      });
    },
    ...extra,
  });
  return {
    id,
    root,
    db,
    index,
    chunks,
    fsm,
    events: seen,
    fetched,
    close: () => {
      chunks.close();
      db.close();
    },
  };
}

const enc = new TextEncoder();

export function bytes(s: string | Uint8Array): Uint8Array {
  return typeof s === "string" ? enc.encode(s) : s;
}

export interface PutOpts {
  base?: VectorClock;
  origin?: string;
  mode?: number;
  mtimeMs?: number;
  seq?: number;
  /** Leave chunk bytes out of the entry and publish them to `peers` instead. */
  outOfBand?: PeerChunks;
}

export function put(p: string, content: string | Uint8Array, o: PutOpts = {}): PutCommand {
  const data = bytes(content);
  const chunks = chunkBytes(data);
  if (o.outOfBand) for (const c of chunks) o.outOfBand.set(c.hash, c.data);
  const unique = new Map(chunks.map((c) => [c.hash, c.data]));
  const inline = o.outOfBand ? [] : [...unique].map(([hash, data]) => ({ hash, data }));
  return {
    op: "put",
    path: p,
    kind: "file",
    mode: o.mode ?? 0o644,
    mtimeMs: o.mtimeMs ?? 1_700_000_000_000,
    size: data.length,
    hash: sha256Hex(data),
    chunks: chunks.map((c) => c.hash),
    inline,
    base: o.base ?? {},
    origin: o.origin ?? "n1",
    seq: o.seq ?? 1,
  };
}

export function del(p: string, base: VectorClock, origin = "n1"): LeafCommand {
  return { op: "delete", path: p, base, origin, seq: 1 };
}

/** A log of entries with consecutive indexes. */
export class Log {
  readonly entries: Entry[] = [];
  add(cmd: LeafCommand | LeafCommand[]): Entry {
    const e: Entry = { term: 1, index: this.entries.length + 1, type: 0, data: encodeCommand(cmd) };
    this.entries.push(e);
    return e;
  }
  raw(data: Uint8Array): Entry {
    const e: Entry = { term: 1, index: this.entries.length + 1, type: 0, data };
    this.entries.push(e);
    return e;
  }
}

/** path -> "file:<mode>:<content hex>" | "dir:<mode>" | "symlink", everything except .pickbox. */
export function folderState(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      if (!rel && name === ".pickbox") continue;
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(root, p));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[p] = `dir:${mode}`;
        visit(p);
      } else if (st.isFile())
        out[p] = `file:${mode}:${Buffer.from(readFileSync(path.join(root, p))).toString("hex")}`;
      else out[p] = "other";
    }
  };
  visit("");
  return out;
}

export function readText(root: string, p: string): string {
  return readFileSync(path.join(root, p), "utf8");
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
