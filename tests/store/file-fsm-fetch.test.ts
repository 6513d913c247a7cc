// Chunks an entry names but does not carry are fetched at apply time; a fetcher may hand them over in
// pieces (sink) as they arrive, so a large file is never held in memory whole.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { type Chunk, sha256Hex } from "../../src/store/chunker.ts";
import { FileFSM } from "../../src/store/file-fsm.ts";
import { FileIndex } from "../../src/store/file-index.ts";
import { Log, type PeerChunks, put, testNodesPerTest } from "./fsm-fixture.ts";

const t = testNodesPerTest();

test("a fetcher that streams chunks into the sink (returning none) materialises the file", async () => {
  const root = path.join(t.base, "n");
  mkdirSync(path.join(root, ".pickbox"), { recursive: true });
  const db = new Database(path.join(root, ".pickbox", "state.db"));
  const chunks = new ChunkStore(path.join(root, ".pickbox", "chunks"), { db });
  const peers: PeerChunks = new Map();
  const data = new Uint8Array(2 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
  const cmd = put("big.bin", data, { outOfBand: peers });
  const handed: number[] = [];
  const fsm = new FileFSM({
    root,
    nodeId: "n",
    index: new FileIndex(db),
    chunks,
    bootId: "boot",
    fetchChunks: async (hashes, _hint, sink) => {
      if (!sink) throw new Error("the FSM offers a sink");
      for (const h of hashes) {
        const c: Chunk = { hash: h, data: peers.get(h)! };
        await sink([c]); // one chunk at a time, as replies arrive
        handed.push(c.data.length);
      }
      return [];
    },
  });
  try {
    const r = await fsm.apply(new Log().add(cmd));
    expect(r.action).toBe("put");
    expect(handed.length).toBe(new Set(cmd.chunks).size);
    expect(sha256Hex(readFileSync(path.join(root, "big.bin")))).toBe(sha256Hex(data));
  } finally {
    chunks.close();
    db.close();
  }
});
