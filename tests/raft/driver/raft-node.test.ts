import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RaftNode } from "../../../src/raft/driver/raft-node.ts";
import type { FSM } from "../../../src/raft/fsm.ts";
import { FileSnapshotStore } from "../../../src/raft/storage/file-snapshot-store.ts";
import { MemoryRaftStorage } from "../../../src/raft/storage/memory-raft-storage.ts";
import { TcpTransport } from "../../../src/raft/transport/tcp-transport.ts";
import type { Entry } from "../../../src/raft/types.ts";
import { freePorts } from "../../integration/helpers/cluster.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

class ListFSM implements FSM {
  readonly applied: string[] = [];
  index = 0;
  constructor(private readonly failOn?: string) {}
  apply(e: Entry): unknown {
    const s = new TextDecoder().decode(e.data);
    if (s === this.failOn) throw new Error(`cannot apply ${s}`);
    this.applied.push(s);
    this.index = e.index;
    return `applied ${s} at ${e.index}`;
  }
  snapshot() {
    return { persist: async () => {}, release: () => {} };
  }
  async restore(): Promise<void> {}
  appliedIndex(): number {
    return this.index;
  }
}

async function singleNode(fsm: FSM): Promise<RaftNode> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pickbox-driver-"));
  const [port] = await freePorts(1);
  const node = new RaftNode({
    id: "n1",
    address: `127.0.0.1:${port}`,
    storage: new MemoryRaftStorage(),
    snapshots: new FileSnapshotStore(path.join(dir, "snapshots")),
    transport: new TcpTransport({ bindPort: port! }),
    fsm,
    bootstrap: true,
    tickMs: 10,
    seed: 42,
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => node.stop());
  await node.start();
  await new Promise<void>((resolve) => {
    if (node.isLeader) resolve();
    node.on("softState", (ss) => ss.role === "leader" && resolve());
  });
  return node;
}

test("a bootstrapped node leads, applies proposals in order and returns the FSM's result", async () => {
  const fsm = new ListFSM();
  const node = await singleNode(fsm);
  const results = await Promise.all(["a", "b", "c"].map((s) => node.propose(new TextEncoder().encode(s))));
  expect(fsm.applied).toEqual(["a", "b", "c"]);
  expect(results.map(String)).toEqual(fsm.applied.map((s, i) => `applied ${s} at ${fsm.index - 2 + i}`));
  const readIndex = await node.readBarrier();
  expect(readIndex).toBeGreaterThanOrEqual(fsm.index);
});

test("an apply that throws stops the node and reports it (no half-alive node)", async () => {
  const node = await singleNode(new ListFSM("poison"));
  const failed = new Promise<Error>((r) => node.on("failed", r));
  const proposal = node.propose(new TextEncoder().encode("poison"));
  expect((await failed).message).toBe("cannot apply poison");
  await expect(proposal).rejects.toThrow("raft node stopped");
  await expect(node.propose(new TextEncoder().encode("more"))).rejects.toThrow("raft node stopped");
});
