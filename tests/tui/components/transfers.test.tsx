import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import chalk from "chalk"; // Ink's colouring: forced on, so "no colour" is the theme's doing, not the pipe's
import { cleanup, render } from "ink-testing-library";
import { ThemeProvider } from "../../../tui/components/theme.tsx";
import { TransferLines } from "../../../tui/components/transfer-lines.tsx";
import { transfersModel } from "../../../tui/model/transfers-model.ts";
import { initialState, withEvent } from "../../../tui/model/tui-state.ts";
import { threeHealthy } from "../fixtures.ts";
import { frameWhere, renderTui } from "./render-tui.tsx";

afterEach(() => cleanup());
const chalkLevel = chalk.level;
beforeAll(() => {
  chalk.level = 1;
});
afterAll(() => {
  chalk.level = chalkLevel;
});

const MiB = 1024 * 1024;
const ANSI = /\x1b\[[0-9;]*m/g;
/** Foreground/background colour codes (bold and inverse are not colour: NO_COLOR keeps them). */
const COLOUR = /\x1b\[(?:3\d|4\d|9\d|10\d)(?:;\d+)*m/;
const plain = (f: string) => f.replace(ANSI, "");

const transfer = (over: Record<string, unknown> = {}) => ({
  type: "transfer",
  node: "node1",
  id: "push-a-1",
  direction: "push",
  path: "videos/big.bin",
  files: 1,
  peers: ["node2", "node3"],
  bytesDone: 12 * MiB,
  bytesTotal: 24 * MiB,
  chunksDone: 192,
  chunksTotal: 384,
  elapsedMs: 1500,
  state: "active",
  at: 100_000,
  ...over,
});

function rowsOf(...events: Record<string, unknown>[]) {
  let s = initialState("attach", "t");
  for (const e of events) s = withEvent(s, e as { type: string }, 100_000);
  return transfersModel(s, 100_000);
}

describe("TransferLines", () => {
  test("a bar filled to the transfer's percentage, ASCII without unicode, no colour codes under NO_COLOR", () => {
    const { lastFrame } = render(
      <ThemeProvider theme={{ color: false, unicode: false }}>
        <TransferLines rows={rowsOf(transfer())} width={80} />
      </ThemeProvider>,
    );
    const frame = lastFrame() ?? "";
    expect(frame).toBe("push  videos/big.bin    node1>2 peers #####.....  50%   12 MiB/24 MiB  8.0 MiB/s");
    expect(COLOUR.test(frame)).toBe(false);
  });

  test("with colour: the same line in colour; the end state is a word", () => {
    const { lastFrame } = render(
      <ThemeProvider theme={{ color: true, unicode: true }}>
        <TransferLines
          rows={rowsOf(
            transfer({ id: "a", bytesDone: 6 * MiB }),
            transfer({ id: "b", path: "done.iso", state: "done", bytesDone: 24 * MiB }),
            transfer({ id: "c", path: "lost.iso", state: "failed", error: "quorum lost" }),
          )}
          width={80}
        />
      </ThemeProvider>,
    );
    const frame = lastFrame() ?? "";
    expect(COLOUR.test(frame)).toBe(true);
    const lines = plain(frame).split("\n");
    expect(lines[0]).toBe("push  videos/big.bin    node1→2 peers ███░░░░░░░  25%  6.0 MiB/24 MiB  4.0 MiB/s");
    expect(lines.find((l) => l.includes("lost.iso"))).toMatch(/ 50% .* FAILED$/);
    expect(lines.find((l) => l.includes("done.iso"))).toMatch(/██████████ 100% .* done$/);
  });
});

describe("TuiApp with a transfer", () => {
  test("80x24: the progress bar sits in the replication pane, within the terminal, without colour", async () => {
    const { lastFrame, store } = renderTui();
    store.cluster(threeHealthy(), "node1", "admin 127.0.0.1:9001");
    store.event(transfer({ bytesDone: 18 * MiB }));
    const raw = await frameWhere(lastFrame, (f) => f.includes("big.bin"), "the transfer");
    expect(COLOUR.test(raw)).toBe(false);
    const frame = plain(raw);
    const lines = frame.split("\n");
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(80);
    expect(frame).toMatch(/Replication .*1 transfer/);
    expect(frame).toContain("push  videos/big.bin    node1→2 peers ████████░░  75%   18 MiB/24 MiB");
    expect(frame).not.toContain("no replication events yet");

    store.event(transfer({ bytesDone: 24 * MiB, state: "done", elapsedMs: 2000 }));
    await frameWhere(lastFrame, (f) => /██████████ 100% .* done/.test(plain(f)), "the finished transfer");
  });
});
