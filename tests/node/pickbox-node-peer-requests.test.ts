// A node's answers to chunk pushes from a peer, over the real transport: a durable request that names
// chunks the sender believes are here is answered with those that are not.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PickboxNode } from "../../src/node/pickbox-node.ts";
import { TcpTransport } from "../../src/raft/transport/tcp-transport.ts";
import { chunkBytes, sha256Hex } from "../../src/store/chunker.ts";
import { encodeCommand } from "../../src/store/commands.ts";
import { freePorts, waitFor } from "../integration/helpers/cluster.ts";
import { put } from "../store/fsm-fixture.ts";
import { testNodeOptions } from "./test-node-options.ts";

let dir: string;
let node: PickboxNode;
let peer: TcpTransport;
let address: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "pickbox-peer-requests-"));
  const [raftPort, adminPort] = await freePorts(2);
  node = new PickboxNode(
    testNodeOptions({
      nodeId: "node1",
      dataDir: dir,
      raftPort: raftPort!,
      adminPort: adminPort!,
      join: null,
    }),
  );
  await node.start();
  await waitFor("node1 to lead", () => node.raft.isLeader, 10_000);
  address = `127.0.0.1:${raftPort}`;
  peer = new TcpTransport();
  await peer.listen({
    onMessage() {},
    async onRequest() {
      return null;
    },
    async onSnapshot() {},
  });
}, 30_000);

afterAll(async () => {
  await peer?.close();
  await node?.stop().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function chunkOf(bytes: number) {
  const data = new Uint8Array(randomBytes(bytes));
  return { hash: sha256Hex(data), data };
}

describe("putChunks from a peer", () => {
  test("a durable request with `expect` names exactly the expected chunks this node lacks", async () => {
    const held = chunkOf(40 * 1024);
    const never = chunkOf(40 * 1024);
    expect(await peer.request(address, { t: "putChunks", chunks: [held], durable: false }, 5_000)).toBe(true);
    const reply = await peer.request(
      address,
      { t: "putChunks", chunks: [], durable: true, expect: [held.hash, never.hash] },
      5_000,
    );
    expect(reply).toEqual({ missing: [never.hash] });
    expect(
      await peer.request(address, { t: "putChunks", chunks: [], durable: true, expect: [held.hash] }, 5_000),
    ).toBe(true);
  });

  test("without `expect` a durable request answers true, as before", async () => {
    expect(await peer.request(address, { t: "putChunks", chunks: [chunkOf(20_000)] }, 5_000)).toBe(true);
  });

  test("placed chunks are also written into a stage, which the apply of the entry naming them renames into place", async () => {
    const data = new Uint8Array(randomBytes(2 * 1024 * 1024 + 3));
    const cmd = put("staged/big.bin", data, { outOfBand: new Map(), origin: "node2" });
    const chunks = chunkBytes(data);
    const offsets = chunks.map((_, i) => chunks.slice(0, i).reduce((n, c) => n + c.data.length, 0));
    const stage = { id: "node2:1:1", path: cmd.path, size: data.length };
    expect(
      await peer.request(address, { t: "putChunks", chunks, durable: false, stage, at: offsets }, 5_000),
    ).toBe(true);
    expect(await peer.request(address, { t: "putChunks", chunks: [], durable: true }, 5_000)).toBe(true);
    const stageDir = path.join(node.stateDir, "tmp", "push");
    // The stage is there (its last bytes may still be on their way: the apply waits for them).
    const staged = await waitFor("the stage file", () => {
      const [f] = readdirSync(stageDir);
      return f ? path.join(stageDir, f) : null;
    });
    expect(statSync(staged).size).toBe(data.length);
    const ino = statSync(staged).ino;
    await peer.request(address, { t: "propose", data: encodeCommand(cmd) }, 10_000);
    const file = path.join(node.folder, "staged/big.bin");
    expect(sha256Hex(readFileSync(file))).toBe(cmd.hash);
    expect(statSync(file).ino).toBe(ino);
    expect(readdirSync(stageDir)).toEqual([]);
  });
});
