// Transfer progress events of real in-process nodes: the origin pushing a large file's chunks, and a
// node that was down fetching them at apply time.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { NodeEvent, TransferEvent } from "../../src/node/node-events.ts";
import type { NodeOptions } from "../../src/node/node-options.ts";
import { PickboxNode, PUSH_BATCH_BYTES } from "../../src/node/pickbox-node.ts";
import { freePorts, waitFor } from "../integration/helpers/cluster.ts";
import { testNodeOptions } from "./test-node-options.ts";

const MiB = 1024 * 1024;
/** More than two 8 MiB push batches, so the progress has intermediate steps. */
const SIZE = 20 * MiB;

let dir: string;
const options: NodeOptions[] = [];
const nodes: (PickboxNode | null)[] = [];
const seen: Map<string, TransferEvent[]>[] = [];

function record(i: number, node: PickboxNode): void {
  const byId = new Map<string, TransferEvent[]>();
  seen[i] = byId;
  node.events.subscribe((e: NodeEvent) => {
    if (e.type !== "transfer") return;
    const t = e as unknown as TransferEvent;
    byId.set(t.id, [...(byId.get(t.id) ?? []), t]);
  });
}

function finished(i: number, direction: TransferEvent["direction"]): TransferEvent[][] {
  return [...(seen[i]?.values() ?? [])].filter(
    (evs) => evs[0]!.direction === direction && evs.at(-1)!.state !== "active",
  );
}

/** The file appears in the folder at once (a rename), so the watcher sees one version. */
function drop(i: number, name: string, data: Uint8Array): void {
  const tmp = path.join(dir, `${name}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path.join(nodes[i]!.folder, name));
}

function expectMonotonicToTotal(evs: TransferEvent[], total: number): void {
  for (let k = 1; k < evs.length; k++)
    expect(evs[k]!.bytesDone).toBeGreaterThanOrEqual(evs[k - 1]!.bytesDone);
  const last = evs.at(-1)!;
  expect(last.state).toBe("done");
  expect(last.bytesTotal).toBe(total);
  expect(last.bytesDone).toBe(total);
  expect(last.chunksDone).toBe(last.chunksTotal);
  expect(evs.filter((e) => e.state !== "active")).toHaveLength(1);
}

async function startNode(i: number): Promise<PickboxNode> {
  const node = new PickboxNode(options[i]!);
  record(i, node);
  nodes[i] = node;
  await node.start();
  return node;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "pickbox-transfers-"));
  const ports = await freePorts(6);
  for (let i = 0; i < 3; i++) {
    options.push(
      testNodeOptions({
        nodeId: `node${i + 1}`,
        dataDir: dir,
        raftPort: ports[i * 2]!,
        adminPort: ports[i * 2 + 1]!,
        join: i === 0 ? null : `127.0.0.1:${ports[0]}`,
        transferEventMs: 0, // every batch reported: the steps are what this test looks at
      }),
    );
  }
  const first = await startNode(0);
  await waitFor("node1 to lead", () => first.raft.isLeader, 10_000);
  await startNode(1);
  await startNode(2);
  await waitFor("three voters", () => first.raft.members().voters.length === 3, 20_000);
  await waitFor("every node to know the leader", () => nodes.every((n) => n?.raft.leader), 20_000);
}, 60_000);

afterAll(async () => {
  for (const n of nodes) await n?.stop().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("transfer progress events", () => {
  test("the origin's push of a multi-batch file: bytesDone rises to bytesTotal, peers named", async () => {
    drop(0, "big.bin", randomBytes(SIZE));
    const [evs] = await waitFor(
      "node1's push of big.bin to finish",
      () => {
        const done = finished(0, "push").filter((x) => x[0]!.path === "big.bin");
        return done.length > 0 ? done : null;
      },
      60_000,
    );
    expectMonotonicToTotal(evs!, SIZE); // random bytes: no chunk is shared, every byte is pushed
    expect(evs![0]!.bytesDone).toBe(0);
    // 0, then one step per batch at interval 0: a batch goes out once it holds PUSH_BATCH_BYTES (plus at
    // most one 256 KiB chunk), so 20 MiB moves in ceil(20 MiB / batch) batches.
    const steps = [...new Set(evs!.map((e) => e.bytesDone))];
    expect(steps).toHaveLength(Math.ceil(SIZE / PUSH_BATCH_BYTES) + 1);
    for (let k = 1; k < steps.length - 1; k++) {
      expect(steps[k]! - steps[k - 1]!).toBeGreaterThanOrEqual(PUSH_BATCH_BYTES);
      expect(steps[k]! - steps[k - 1]!).toBeLessThan(PUSH_BATCH_BYTES + 256 * 1024);
    }
    expect(evs!.at(-1)!.peers.sort()).toEqual(["node2", "node3"]);
    expect(evs!.every((e) => e.files === 1 && (e as unknown as NodeEvent).node === "node1")).toBe(true);
    // The receivers got the chunks by push: they fetch nothing.
    await waitFor("big.bin applied on node3", () => nodes[2]!.index.get("big.bin"), 30_000);
    expect(seen[1]!.size + seen[2]!.size).toBe(0);
  }, 90_000);

  test("a node that missed the push fetches at apply: fetch events rise to the file's size", async () => {
    await nodes[2]!.stop();
    nodes[2] = null;
    drop(0, "later.bin", randomBytes(SIZE));
    await waitFor("later.bin committed on node2", () => nodes[1]!.index.get("later.bin"), 60_000);
    const push = finished(0, "push").find((x) => x[0]!.path === "later.bin")!;
    expectMonotonicToTotal(push, SIZE);
    expect(push.at(-1)!.peers).toEqual(["node2"]); // node3 dropped out of the push

    await startNode(2);
    const [evs] = await waitFor(
      "node3's fetch to finish",
      () => {
        const done = finished(2, "fetch");
        return done.length > 0 ? done : null;
      },
      60_000,
    );
    expectMonotonicToTotal(evs!, SIZE);
    expect(["node1", "node2"]).toContain(evs!.at(-1)!.peers[0]!);
    expect(evs!.at(-1)!.elapsedMs).toBeGreaterThan(0);
    await waitFor("later.bin applied on node3", () => nodes[2]!.index.get("later.bin"), 30_000);
  }, 120_000);
});
