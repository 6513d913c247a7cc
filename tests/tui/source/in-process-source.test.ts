import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { NodeEvents } from "../../../src/node/node-events.ts";
import { filesModel } from "../../../tui/model/files-model.ts";
import { transfersModel } from "../../../tui/model/transfers-model.ts";
import type { ClusterSource } from "../../../tui/source/cluster-source.ts";
import { inProcessSource, type TuiNode } from "../../../tui/source/in-process-source.ts";
import { TuiStore } from "../../../tui/store/tui-store.ts";
import { waitFor } from "../../integration/helpers/cluster.ts";
import { leaderOf3, member } from "../fixtures.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A single-member "cluster" whose node is this process: no network at all. */
function fakeNode() {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "pickbox-tui-inproc-"));
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  writeFileSync(path.join(stateDir, "node.log"), '{"level":30,"node":"node1","msg":"node started"}\n');
  const events = new NodeEvents("node1");
  const entries = [{ path: "a.txt", kind: "file", size: 3, hash: "f".repeat(64) }];
  const node: TuiNode = {
    events,
    stateDir,
    options: { nodeId: "node1", secret: null },
    statusSnapshot: () => leaderOf3(),
    clusterStatus: async () => [member("node1", leaderOf3({ voters: ["node1"], progress: [] }))],
    index: { list: () => entries },
  } as unknown as TuiNode;
  return { node, events, entries, stateDir };
}

describe("in-process source", () => {
  test("reads the node directly: status, own files, event history and live events, its log file", async () => {
    const { node, events, entries, stateDir } = fakeNode();
    events.emitRaft({ type: "role", role: "leader", leader: "node1" }); // before the TUI opened
    const store = new TuiStore({ mode: "in-process", via: "in-process", self: "node1", notifyDelayMs: 0 });
    const source: ClusterSource = inProcessSource(node, { pollMs: 30, filesAfterEventMs: 5 });
    cleanups.push(() => source.stop());
    source.start(store);

    await waitFor(
      "cluster and files",
      () => store.getState().members.length === 1 && store.getState().files.node1,
      5000,
      10,
    );
    expect(store.getState().self).toBe("node1");
    expect(filesModel(store.getState()).rows.map((r) => [r.path, r.state])).toEqual([["a.txt", "agreed"]]);
    expect(store.getState().logs.map((l) => l.msg)).toContain("became leader");
    await waitFor(
      "the log file's line",
      () => store.getState().logs.some((l) => l.msg === "node started"),
      5000,
      10,
    );

    // A live apply: the feed gets it, the files are re-read from the index.
    entries.push({ path: "b.txt", kind: "file", size: 1, hash: "e".repeat(64) });
    events.fsm.emit({
      type: "apply",
      op: "put",
      path: "b.txt",
      origin: "node1",
      size: 1,
      hash: "e".repeat(64),
      mtimeMs: 0,
      wrote: true,
      index: 4,
      applyMs: 1,
    });
    await waitFor(
      "b.txt listed",
      () => filesModel(store.getState()).rows.some((r) => r.path === "b.txt"),
      5000,
      10,
    );
    expect(store.getState().feed.map((f) => f.path)).toEqual(["b.txt"]);

    appendFileSync(path.join(stateDir, "node.log"), '{"level":40,"node":"node1","msg":"disk slow"}\n');
    await waitFor(
      "a new log line",
      () => store.getState().logs.some((l) => l.msg === "disk slow" && l.level === "warn"),
      5000,
      10,
    );
  });

  test("the node's own transfer progress reaches the store directly", async () => {
    const { node, events } = fakeNode();
    const store = new TuiStore({ mode: "in-process", via: "in-process", self: "node1", notifyDelayMs: 0 });
    const source: ClusterSource = inProcessSource(node, { pollMs: 30 });
    cleanups.push(() => source.stop());
    source.start(store);
    const base = {
      type: "transfer",
      id: "push-y-1",
      direction: "push",
      path: "iso/big.iso",
      files: 1,
    } as const;
    const at = (bytesDone: number, state: "active" | "done") =>
      events.emitTransfer({
        ...base,
        peers: ["node2", "node3"],
        bytesDone,
        bytesTotal: 8 << 20,
        chunksDone: bytesDone >> 16,
        chunksTotal: 128,
        elapsedMs: 1000,
        state,
      });
    at(2 << 20, "active");
    expect(transfersModel(store.getState(), Date.now())).toMatchObject([
      { label: "iso/big.iso", from: "node1", to: "2 peers", percent: "25%", bytes: "2.0 MiB/8.0 MiB" },
    ]);
    at(8 << 20, "done");
    expect(transfersModel(store.getState(), Date.now())).toMatchObject([{ percent: "100%", state: "done" }]);
    // Progress is transient: it is not kept in the node's history (which replays applies to a new TUI).
    expect(events.history().filter((e) => e.type === "transfer")).toEqual([]);
  });
});
