import { afterEach, describe, expect, test } from "bun:test";
import { cleanup } from "ink-testing-library";
import { themeFromEnv } from "../../../tui/components/theme.tsx";
import { leaderOf3, member, nodeStatus, threeHealthy } from "../fixtures.ts";
import { frameWhere, renderTui } from "./render-tui.tsx";

afterEach(() => cleanup());

const H = "5891b5b522d5";
const ANSI = /\x1b\[[0-9;]*m/;

function seed(store: ReturnType<typeof renderTui>["store"]) {
  store.cluster(threeHealthy(), "node1", "admin 127.0.0.1:9001");
  store.files("node1", [{ path: "hello.txt", size: 6, hash: H }], null);
  store.files(
    "node2",
    [
      { path: "hello.txt", size: 6, hash: H },
      { path: "wip.bin", size: 4096, hash: "aaaaaaaaaaaa" },
    ],
    null,
  );
  store.files(
    "node3",
    [
      { path: "hello.txt", size: 6, hash: H },
      { path: "wip.bin", size: 4096, hash: "bbbbbbbbbbbb" },
    ],
    null,
  );
  for (const node of ["node2", "node1", "node3"])
    store.event({
      type: "apply",
      op: "put",
      path: "hello.txt",
      origin: "node2",
      size: 6,
      index: 5,
      applyMs: 2,
      mtimeMs: 99_990,
      at: 100_000,
      node,
    });
  store.event({
    type: "conflict",
    path: "notes.md",
    conflictPath: "notes.sync-conflict-20250101-000000-node3.md",
    origin: "node3",
    size: 9,
    index: 6,
    node: "node1",
    at: 100_000,
  });
}

describe("TuiApp", () => {
  test("80x24: every pane, within the terminal, hashes per node, agreement and conflicts", async () => {
    const { lastFrame, store } = renderTui();
    seed(store);
    const frame = await frameWhere(lastFrame, (f) => f.includes("notes.md"), "the conflict");
    const lines = frame.split("\n");
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(80);
    expect(frame).toContain("node1 Leader  term 2  leader node1  commit 10 · applied 10");
    expect(frame).toMatch(/Peers \(3\)/);
    expect(frame).toMatch(new RegExp(`hello\\.txt +6 B ${H} ${H} ${H} ✓ agreed`));
    expect(frame).toMatch(/wip\.bin +4\.0 KiB - +aaaaaaaaaaaa bbbbbbbbbbbb ≠ differ/);
    expect(frame).toContain("1/2 agreed");
    expect(frame).toMatch(/put +hello\.txt +node2 +6 B +3\/3 +10ms/);
    expect(frame).toMatch(/conflict notes\.md \(copy notes\.sync-co… node3 +9 B +1\/3/);
    expect(frame).toContain("tab · arrows · / filter · ? help · q quit");
    expect(ANSI.test(frame)).toBe(false);
  });

  test("a member going down shows in peers, header log and file cells; the new leader is named", async () => {
    const { lastFrame, store } = renderTui({ columns: 120, rows: 40 });
    seed(store);
    store.cluster(
      [
        member("node1", null, { error: "connect ECONNREFUSED" }),
        member("node2", { ...leaderOf3({ node: "node2", leader: "node2", term: 3 }) }),
        member("node3", nodeStatus("node3", { term: 3, leader: "node2" })),
      ],
      "node2",
      "admin 127.0.0.1:9002",
    );
    store.files("node1", null, "down");
    const frame = await frameWhere(lastFrame, (f) => f.includes("leader node2"), "the new leader");
    expect(frame).toContain("node2 Leader  term 3  leader node2");
    expect(frame).toMatch(/node1 +127\.0\.0\.1:8001 +voter +down .*down connect ECONNREFUSED/);
    expect(frame).toMatch(new RegExp(`hello\\.txt +6 B \\? +${H} ${H} ✓ 2/3`));
    expect(frame).toContain("node1: unreachable: connect ECONNREFUSED");
    expect(frame).toContain("leader is node2 (term 3)");
  });

  test("keys: tab moves focus, / filters, ? shows help, q quits", async () => {
    let quit = 0;
    const { lastFrame, store, stdin } = renderTui({ onQuit: () => quit++ });
    seed(store);
    await frameWhere(lastFrame, (f) => f.includes("wip.bin"), "files");
    stdin.write("/");
    stdin.write("hello");
    let f = await frameWhere(lastFrame, (x) => x.includes("/ hello"), "the filter being typed");
    stdin.write("\r");
    f = await frameWhere(lastFrame, (x) => x.includes('filter "hello"'), "the kept filter");
    expect(f).not.toContain("wip.bin");
    expect(f).toContain("hello.txt");
    stdin.write("\x1b");
    await frameWhere(lastFrame, (x) => x.includes("wip.bin"), "the filter cleared");
    stdin.write("?");
    f = await frameWhere(lastFrame, (x) => x.includes("─ Help"), "help");
    expect(f).toContain("tab / shift-tab");
    stdin.write("x");
    await frameWhere(lastFrame, (x) => x.includes("─ Peers"), "help closed");
    stdin.write("q");
    await frameWhere(
      () => String(quit),
      (x) => x === "1",
      "quit",
    );
  });

  test("resize: the same state fits 60x16 and 160x50", async () => {
    for (const [columns, rows] of [
      [60, 16],
      [160, 50],
    ] as const) {
      const { lastFrame, store, unmount } = renderTui({ columns, rows });
      seed(store);
      const frame = await frameWhere(lastFrame, (f) => f.includes("hello.txt"), "files");
      const lines = frame.split("\n");
      expect(lines.length).toBeLessThanOrEqual(rows - 1);
      for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(columns);
      unmount();
    }
  });

  test("NO_COLOR and the locale pick the theme", () => {
    expect(themeFromEnv({ NO_COLOR: "1", LANG: "C.UTF-8" })).toEqual({ color: false, unicode: true });
    expect(themeFromEnv({ NO_COLOR: "", LANG: "C" })).toEqual({ color: true, unicode: false });
    expect(themeFromEnv({ TERM: "dumb" }).color).toBe(false);
  });
});
