import { describe, expect, test } from "bun:test";
import {
  TRANSFER_LINGER_MS,
  TRANSFER_STALE_MS,
  transfersModel,
  withTransferEvent,
} from "../../../tui/model/transfers-model.ts";
import { initialState, withEvent } from "../../../tui/model/tui-state.ts";
import type { TuiState } from "../../../tui/model/types.ts";

const MiB = 1024 * 1024;

const push = (over: Record<string, unknown> = {}) => ({
  type: "transfer",
  node: "node1",
  id: "push-a-1",
  direction: "push",
  path: "big.bin",
  files: 1,
  peers: ["node2", "node3"],
  bytesDone: 0,
  bytesTotal: 24 * MiB,
  chunksDone: 0,
  chunksTotal: 384,
  elapsedMs: 0,
  state: "active",
  at: 5000,
  ...over,
});

function fold(events: Record<string, unknown>[], at: number[]): TuiState {
  let s = initialState("attach", "t");
  events.forEach((e, i) => {
    s = withEvent(s, e as { type: string }, at[i]!);
  });
  return s;
}

describe("transfersModel", () => {
  test("a push in progress: file, from→to, percent, bytes and average rate", () => {
    const s = fold([push(), push({ bytesDone: 16 * MiB, chunksDone: 256, elapsedMs: 2000 })], [1000, 3000]);
    expect(transfersModel(s, 3000)).toEqual([
      {
        key: "node1|push-a-1",
        node: "node1",
        direction: "push",
        label: "big.bin",
        from: "node1",
        to: "2 peers",
        fraction: 2 / 3,
        percent: "66%",
        bytes: "16 MiB/24 MiB",
        rate: "8.0 MiB/s",
        state: "active",
        error: null,
      },
    ]);
  });

  test("a fetch without a known total: percent by chunks, bytes so far, from the peer asked to the fetcher", () => {
    const s = fold(
      [
        push({
          node: "node3",
          id: "fetch-b-1",
          direction: "fetch",
          path: null,
          peers: ["node1"],
          bytesTotal: null,
          bytesDone: 4 * MiB,
          chunksDone: 64,
          chunksTotal: 256,
          elapsedMs: 500,
        }),
      ],
      [1000],
    );
    const [row] = transfersModel(s, 1000);
    expect(row).toMatchObject({
      label: "256 chunks",
      from: "node1",
      to: "node3",
      percent: "25%",
      bytes: "4.0 MiB",
      rate: "8.0 MiB/s",
    });
  });

  test("a finished transfer shows 100% and goes after the linger time (injected clock)", () => {
    const s = fold(
      [push(), push({ bytesDone: 24 * MiB, chunksDone: 384, elapsedMs: 3000, state: "done" })],
      [1000, 4000],
    );
    expect(transfersModel(s, 4000)[0]).toMatchObject({ percent: "100%", fraction: 1, state: "done" });
    expect(transfersModel(s, 4000 + TRANSFER_LINGER_MS)).toHaveLength(1);
    expect(transfersModel(s, 4001 + TRANSFER_LINGER_MS)).toEqual([]);
    // The next event of any transfer prunes it from the state as well.
    const later = withTransferEvent(s.transfers, push({ id: "push-a-2" }), 4001 + TRANSFER_LINGER_MS);
    expect(Object.keys(later)).toEqual(["node1|push-a-2"]);
  });

  test("an active transfer that goes silent (its node died) is dropped after the stale time", () => {
    const s = fold([push({ bytesDone: 8 * MiB })], [1000]);
    expect(transfersModel(s, 1000 + TRANSFER_STALE_MS)).toHaveLength(1);
    expect(transfersModel(s, 1001 + TRANSFER_STALE_MS)).toEqual([]);
  });

  test("progress never goes backwards, and nothing changes a transfer after its final event", () => {
    const s = fold(
      [
        push({ bytesDone: 16 * MiB, elapsedMs: 2000 }),
        push({ bytesDone: 8 * MiB, elapsedMs: 1000 }), // a late event through another stream
        push({ bytesDone: 24 * MiB, state: "done", elapsedMs: 3000 }),
        push({ bytesDone: 16 * MiB, state: "active", elapsedMs: 2000 }),
      ],
      [1, 2, 3, 4],
    );
    const t = s.transfers["node1|push-a-1"]!;
    expect(t).toMatchObject({ bytesDone: 24 * MiB, state: "done", elapsedMs: 3000, endedAt: 3 });
  });

  test("active transfers first (oldest first), then ended ones (latest first); the filter matches path and nodes", () => {
    const s = fold(
      [
        push({ id: "1", path: "a.iso" }),
        push({ id: "2", path: "b.iso", state: "done", bytesDone: 24 * MiB }),
        push({ id: "3", path: "c.iso", node: "node2", peers: ["node4"] }),
        push({ id: "4", path: "d.iso", state: "failed", error: "quorum lost" }),
      ],
      [1, 2, 3, 4],
    );
    expect(transfersModel(s, 10).map((r) => r.label)).toEqual(["a.iso", "c.iso", "d.iso", "b.iso"]);
    expect(transfersModel(s, 10, "NODE4").map((r) => r.label)).toEqual(["c.iso"]);
    expect(transfersModel(s, 10, "b.iso").map((r) => r.label)).toEqual(["b.iso"]);
  });

  test("a push of several files names the first and counts the rest", () => {
    const s = fold([push({ files: 3, peers: ["node2"] })], [1]);
    expect(transfersModel(s, 1)[0]).toMatchObject({ label: "big.bin +2", to: "node2", rate: "-" });
  });

  test("malformed transfer events change nothing", () => {
    const base = initialState("attach", "t");
    for (const bad of [
      push({ direction: "sideways" }),
      push({ bytesDone: -1 }),
      push({ bytesTotal: "lots" }),
      push({ state: "paused" }),
      push({ node: undefined }),
      push({ id: 7 }),
    ]) {
      expect(withEvent(base, bad, 1)).toBe(base);
    }
  });

  test("a failure becomes one warning log line with its reason", () => {
    const failed = push({ state: "failed", error: "chunks reached 1 of the 2 voters needed" });
    const s = fold([push(), failed, failed], [1, 2, 3]);
    expect(s.logs.map((l) => [l.level, l.node, l.msg])).toEqual([
      ["warn", "node1", "push of big.bin failed: chunks reached 1 of the 2 voters needed"],
    ]);
  });
});
