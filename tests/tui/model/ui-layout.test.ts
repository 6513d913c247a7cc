import { describe, expect, test } from "bun:test";
import { frameHeight, layoutPanes } from "../../../tui/model/layout-model.ts";
import { clampScroll, initialUi, PANES, reduceKey, type UiState } from "../../../tui/model/ui-state.ts";

function press(ui: UiState, ...keys: (string | Record<string, boolean>)[]): { ui: UiState; quit: boolean } {
  let r = { ui, quit: false };
  for (const k of keys) r = typeof k === "string" ? reduceKey(r.ui, k, {}) : reduceKey(r.ui, "", k);
  return r;
}

describe("reduceKey", () => {
  test("tab and arrows cycle the focus; digits jump", () => {
    const ui = initialUi();
    expect(ui.focus).toBe("files");
    expect(press(ui, { tab: true }).ui.focus).toBe("feed");
    expect(press(ui, { tab: true, shift: true }).ui.focus).toBe("peers");
    expect(press(ui, { rightArrow: true }, { rightArrow: true }, { rightArrow: true }).ui.focus).toBe(
      "peers",
    );
    expect(press(ui, { leftArrow: true }).ui.focus).toBe("peers");
    expect(press(ui, "4").ui.focus).toBe("log");
  });

  test("/ edits a filter: typing, backspace, enter keeps it, esc clears it", () => {
    let r = press(initialUi(), "/", "d", "o", "c", { backspace: true }, "x");
    expect(r.ui).toMatchObject({ editingFilter: true, filter: "dox" });
    // While editing, q is text, not quit.
    r = press(r.ui, "q");
    expect(r.quit).toBe(false);
    expect(r.ui.filter).toBe("doxq");
    r = press(r.ui, { return: true });
    expect(r.ui).toMatchObject({ editingFilter: false, filter: "doxq" });
    expect(press(r.ui, { escape: true }).ui.filter).toBe("");
    expect(press(r.ui, "/", { escape: true }).ui).toMatchObject({ editingFilter: false, filter: "" });
  });

  test("? opens help, any key closes it, q quits from anywhere but the filter", () => {
    const help = press(initialUi(), "?").ui;
    expect(help.help).toBe(true);
    expect(press(help, "x").ui.help).toBe(false);
    expect(press(help, "q").quit).toBe(true);
    expect(press(initialUi(), "q").quit).toBe(true);
    expect(reduceKey(initialUi(), "c", { ctrl: true }).quit).toBe(true);
  });

  test("arrows scroll only the focused pane and never below zero", () => {
    const r = press(
      initialUi(),
      { downArrow: true },
      { downArrow: true },
      { pageDown: true },
      { upArrow: true },
    );
    expect(r.ui.scroll).toEqual({ peers: 0, files: 11, feed: 0, log: 0 });
    expect(press(initialUi(), { upArrow: true }).ui.scroll.files).toBe(0);
    expect(press(r.ui, "g").ui.scroll.files).toBe(0);
    expect(clampScroll(50, 10, 4)).toBe(6);
    expect(clampScroll(3, 2, 4)).toBe(0);
  });
});

const BIG = { peers: 5, files: 100, feed: 100, log: 100 };

describe("layoutPanes", () => {
  const total = (l: ReturnType<typeof layoutPanes>) =>
    l.header + l.footer + PANES.reduce((n, p) => n + l.panes[p], 0);

  test("80x24 and 120x40 are filled to one line short of the terminal, every pane visible", () => {
    for (const [w, h] of [
      [80, 24],
      [120, 40],
      [100, 30],
    ] as const) {
      for (const focus of PANES) {
        const l = layoutPanes(w, h, focus, BIG);
        expect(total(l)).toBe(frameHeight(h));
        expect(frameHeight(h)).toBe(h - 1);
        for (const p of PANES) expect(l.panes[p]).toBeGreaterThanOrEqual(2);
        expect(l.panes.peers).toBeLessThanOrEqual(5); // title + header + 3 members
      }
    }
  });

  test("the focused pane gets more room", () => {
    expect(layoutPanes(80, 40, "log", BIG).panes.log).toBeGreaterThan(
      layoutPanes(80, 40, "files", BIG).panes.log,
    );
  });

  test("lines a pane cannot use go to panes with more to show, the rest to the feed and log", () => {
    const l = layoutPanes(80, 24, "files", { peers: 5, files: 3, feed: 3, log: 40 });
    expect(l.panes).toEqual({ peers: 5, files: 3, feed: 3, log: 9 });
    const idle = layoutPanes(80, 24, "files", { peers: 5, files: 3, feed: 2, log: 2 });
    expect(idle.panes).toEqual({ peers: 5, files: 3, feed: 2 + 5, log: 2 + 3 });
  });

  test("a tiny terminal shows only the focused pane", () => {
    const l = layoutPanes(60, 12, "feed", BIG);
    expect(l.panes).toMatchObject({ peers: 0, files: 0, log: 0 });
    expect(total(l)).toBe(11);
  });
});
