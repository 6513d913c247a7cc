// Deferred durability: applies do not fsync file by file; checkpoint() makes them durable and records
// the index; after a power cut (new boot id) the files applied past the last checkpoint are checked and
// torn ones rewritten, while a process crash (same boot) leaves the folder to the scanner.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DURABLE_BOOT_KEY, DURABLE_INDEX_KEY } from "../../src/store/file-fsm.ts";
import {
  folderState,
  Log,
  openNode,
  type PeerChunks,
  put,
  readText,
  testNodesPerTest,
} from "./fsm-fixture.ts";

const t = testNodesPerTest();

describe("FileFSM durability", () => {
  test("applies are recorded durable only by a checkpoint, which persists the index and boot", async () => {
    const a = t.node("a");
    const log = new Log();
    for (let i = 0; i < 5; i++) log.add(put(`f${i}.txt`, `v${i}`));
    await a.fsm.applyMany(log.entries);
    expect(a.fsm.appliedIndex()).toBe(5);
    expect(a.fsm.durableIndex()).toBe(0);
    expect(await a.fsm.checkpoint()).toBe(5);
    expect(a.fsm.durableIndex()).toBe(5);
    expect(a.index.getMeta(DURABLE_INDEX_KEY)).toBe("5");
    expect(a.index.getMeta(DURABLE_BOOT_KEY)).toBe("boot-1");
    // Nothing new: the recorded index stays.
    expect(await a.fsm.checkpoint()).toBe(5);
  });

  test("a snapshot checkpoints first (the log is compacted behind snapshots)", async () => {
    const a = t.node("a");
    const log = new Log();
    log.add(put("x.txt", "x"));
    log.add(put("y.txt", "y"));
    await a.fsm.applyMany(log.entries);
    const snap = await a.fsm.snapshot();
    snap.release();
    expect(a.fsm.durableIndex()).toBe(2);
  });

  test("after a power cut, files applied past the checkpoint are verified and torn ones rewritten", async () => {
    const peers: PeerChunks = new Map();
    const a = t.node("a", peers);
    const log = new Log();
    log.add(put("early.txt", "made durable by the checkpoint"));
    await a.fsm.applyMany(log.entries);
    await a.fsm.checkpoint();
    const empty = put("late/empty.txt", "torn to zero bytes", { origin: "n2" });
    const zeroed = put("late/zeroed.bin", "zero-filled by the cut", { origin: "n2" });
    const edited = put("late/edited.txt", "what the cluster agreed", { origin: "n2" });
    const intact = put("late/intact.txt", "survived", { origin: "n2" });
    const big = put(
      "late/big.bin",
      new Uint8Array(300_000).map((_, i) => i % 251),
      {
        origin: "n2",
        outOfBand: peers,
      },
    );
    log.add([empty, zeroed, edited, intact, big]);
    await a.fsm.applyMany(log.entries.slice(1));
    const agreed = folderState(a.root);
    await a.chunks.delete(big.chunks[0]!); // a chunk whose bytes the cut took
    a.close();

    // What a power cut can leave: data never written, zeroed blocks, a lost chunk file; and a person's
    // edit in the same second (not blank, so it must be kept).
    truncateSync(path.join(a.root, "late/empty.txt"), 0);
    writeFileSync(path.join(a.root, "late/zeroed.bin"), new Uint8Array(22));
    writeFileSync(path.join(a.root, "late/edited.txt"), "a person's last-second edit");
    truncateSync(path.join(a.root, "late/big.bin"), 1000);

    const b = t.track(openNode(a.root, "a", peers, undefined, "boot-2"));
    expect(b.fsm.durableIndex()).toBe(1);
    const rewritten = await b.fsm.repairAfterPowerLoss();
    expect(rewritten).toBe(4); // empty, zeroed, big (a prefix), edited (after moving the edit aside)
    const now = folderState(b.root);
    for (const [p, v] of Object.entries(agreed)) expect(now[p]).toBe(v);
    const copies = readdirSync(path.join(b.root, "late")).filter((n) => n.includes(".sync-conflict-"));
    expect(copies).toHaveLength(1);
    expect(readText(b.root, `late/${copies[0]}`)).toBe("a person's last-second edit");
    expect(b.fetched.flat()).toContain(big.chunks[0]!);
    expect(b.fsm.durableIndex()).toBe(2);
    expect(b.index.getMeta(DURABLE_BOOT_KEY)).toBe("boot-2");
    // Repaired once: a second call has nothing to do.
    expect(await b.fsm.repairAfterPowerLoss()).toBe(0);
  });

  test("a process crash (same boot) repairs nothing: what is on disk is what a person left there", async () => {
    const a = t.node("a");
    const log = new Log();
    log.add(put("f.txt", "applied, not checkpointed"));
    await a.fsm.applyMany(log.entries);
    a.close();
    truncateSync(path.join(a.root, "f.txt"), 0); // a person truncating the file after the crash
    const b = t.track(openNode(a.root, "a", new Map(), undefined, "boot-1"));
    expect(await b.fsm.repairAfterPowerLoss()).toBe(0);
    expect(readText(b.root, "f.txt")).toBe("");
  });

  test("a power cut after a clean checkpoint repairs nothing", async () => {
    const a = t.node("a");
    const log = new Log();
    log.add(put("f.txt", "durable"));
    await a.fsm.applyMany(log.entries);
    await a.fsm.checkpoint();
    a.close();
    const b = t.track(openNode(a.root, "a", new Map(), undefined, "boot-2"));
    expect(await b.fsm.repairAfterPowerLoss()).toBe(0);
    expect(existsSync(path.join(b.root, "f.txt"))).toBe(true);
  });

  test("a checkpoint after many writes syncs the file system at once; after a few it fsyncs each; a sync error fails it", async () => {
    const calls: string[] = [];
    let answer: boolean | Error = true;
    const root = path.join(t.base, "s");
    mkdirSync(path.join(root, ".pickbox"), { recursive: true });
    const a = t.track(
      openNode(root, "s", new Map(), undefined, "boot-1", {
        syncFileSystem: async (dir) => {
          calls.push(dir);
          if (answer instanceof Error) throw answer;
          return answer;
        },
      }),
    );
    const log = new Log();
    const burst = (n: number, tag: string) =>
      a.fsm.applyMany([log.add(Array.from({ length: n }, (_, i) => put(`${tag}/f${i}.txt`, `${tag} ${i}`)))]);
    await burst(20, "many");
    expect(await a.fsm.checkpoint()).toBe(1);
    expect(calls).toEqual([root]);
    await burst(3, "few");
    expect(await a.fsm.checkpoint()).toBe(2);
    expect(calls).toEqual([root]); // three files: fsynced one by one
    answer = false; // (syncfs not available here)
    await burst(20, "fallback");
    expect(await a.fsm.checkpoint()).toBe(3);
    expect(calls).toHaveLength(2);
    answer = new Error("write-back error");
    await burst(20, "failing");
    await expect(a.fsm.checkpoint()).rejects.toThrow(/write-back error/);
    expect(a.fsm.durableIndex()).toBe(3);
  });
});
