// The apply of a large file whose chunks were pushed ahead of the entry: the peer wrote them into a
// stage as they came (PushStaging), so the apply completes that file and renames it into place.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { chunkBytes, sha256Hex } from "../../src/store/chunker.ts";
import { PushStaging } from "../../src/store/push-staging.ts";
import { Log, openNode, type PeerChunks, put, testNodesPerTest } from "./fsm-fixture.ts";
import { seededBytes } from "./seeded-bytes.ts";

const t = testNodesPerTest();

function stagingNode(peers: PeerChunks) {
  const root = path.join(t.base, "a");
  mkdirSync(path.join(root, ".pickbox"), { recursive: true });
  const staging = new PushStaging(path.join(root, ".pickbox", "tmp"));
  const opened = openNode(root, "a", peers, undefined, "boot-1", { staging });
  const close = opened.close;
  opened.close = () => {
    staging.close(); // (its stages' descriptors with it)
    close();
  };
  const n = t.track(opened);
  const reads: string[] = [];
  const get = n.chunks.get.bind(n.chunks);
  n.chunks.get = (h: string) => {
    reads.push(h);
    return get(h);
  };
  return { n, staging, reads, stageDir: path.join(root, ".pickbox", "tmp", "push") };
}

/** A large file's put, its chunks (as pushed: stored here) and their offsets. */
async function pushed(n: ReturnType<typeof stagingNode>["n"], peers: PeerChunks, seed: number) {
  const data = seededBytes(5 * 1024 * 1024 + 777, seed);
  const cmd = put("big.bin", data, { outOfBand: peers, origin: "n2" });
  const chunks = chunkBytes(data);
  await n.chunks.putMany(chunks, { durable: false });
  const offsets: number[] = [];
  let off = 0;
  for (const c of chunks) {
    offsets.push(off);
    off += c.data.length;
  }
  return { data, cmd, chunks, offsets };
}

describe("FileFSM with pushed chunks staged", () => {
  test("the apply renames the staged file into place, writing only the chunks the push did not place", async () => {
    const peers: PeerChunks = new Map();
    const { n, staging, reads, stageDir } = stagingNode(peers);
    const f = await pushed(n, peers, 1);
    const skip = 3; // one chunk the origin did not send with a placement (e.g. a repeat)
    const target = { id: "n2:1", path: "big.bin", size: f.data.length };
    await staging.write(
      target,
      f.chunks.filter((_, i) => i !== skip),
      f.offsets.filter((_, i) => i !== skip),
    );
    await staging.settled();
    const [stageFile] = readdirSync(stageDir);
    const stageIno = statSync(path.join(stageDir, stageFile!)).ino;

    const r = await n.fsm.apply(new Log().add(f.cmd));
    expect(r.action).toBe("put");
    const file = path.join(n.root, "big.bin");
    expect(sha256Hex(readFileSync(file))).toBe(f.cmd.hash);
    expect(statSync(file).ino).toBe(stageIno); // the stage itself, renamed
    expect(statSync(file).mode & 0o777).toBe(f.cmd.mode);
    expect(statSync(file).mtimeMs).toBe(f.cmd.mtimeMs);
    expect(reads).toEqual([f.chunks[skip]!.hash]); // nothing else read back from the store
    expect(readdirSync(stageDir)).toEqual([]);
    expect(n.fetched).toEqual([]);
  });

  test("a stage that does not fit the committed version is left alone and the file is written whole", async () => {
    const peers: PeerChunks = new Map();
    const { n, staging, stageDir } = stagingNode(peers);
    const f = await pushed(n, peers, 2);
    const stray = seededBytes(f.chunks[0]!.data.length, 99);
    await staging.write(
      { id: "racing", path: "big.bin", size: f.data.length },
      [{ hash: sha256Hex(stray), data: stray }],
      [0],
    );
    await staging.settled();
    const [stageFile] = readdirSync(stageDir);
    await n.fsm.apply(new Log().add(f.cmd));
    const file = path.join(n.root, "big.bin");
    expect(sha256Hex(readFileSync(file))).toBe(f.cmd.hash);
    expect(statSync(file).ino).not.toBe(statSync(path.join(stageDir, stageFile!)).ino);
    expect(staging.size).toBe(1); // still there, for its expiry
  });
});
