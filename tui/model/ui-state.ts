// What the person is doing with the screen (focus, filter, help, scroll), and what each key does to it.
// Pure: the Ink app feeds it keys; tests feed it keys too.

export const PANES = ["peers", "files", "feed", "log"] as const;
export type PaneId = (typeof PANES)[number];

export interface UiState {
  focus: PaneId;
  filter: string;
  editingFilter: boolean;
  help: boolean;
  scroll: Record<PaneId, number>;
}

/** The subset of Ink's Key this app reacts to. */
export interface KeyLike {
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

export function initialUi(): UiState {
  return {
    focus: "files",
    filter: "",
    editingFilter: false,
    help: false,
    scroll: { peers: 0, files: 0, feed: 0, log: 0 },
  };
}

export interface KeyResult {
  ui: UiState;
  quit: boolean;
}

const PAGE = 10;

export function reduceKey(ui: UiState, input: string, key: KeyLike): KeyResult {
  const same = { ui, quit: false };
  if (key.ctrl && input === "c") return { ui, quit: true };
  if (ui.editingFilter) {
    if (key.escape)
      return { ui: { ...ui, editingFilter: false, filter: "", scroll: resetScroll() }, quit: false };
    if (key.return) return { ui: { ...ui, editingFilter: false }, quit: false };
    if (key.backspace || key.delete) return { ui: { ...ui, filter: ui.filter.slice(0, -1) }, quit: false };
    if (key.ctrl || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return same;
    const text = input.replace(/[\u0000-\u001f\u007f]/g, "");
    if (text === "") return same;
    return { ui: { ...ui, filter: ui.filter + text, scroll: resetScroll() }, quit: false };
  }
  if (ui.help) {
    if (input === "q") return { ui, quit: true };
    return { ui: { ...ui, help: false }, quit: false }; // any other key closes help
  }
  if (input === "q") return { ui, quit: true };
  if (input === "?") return { ui: { ...ui, help: true }, quit: false };
  if (input === "/") return { ui: { ...ui, editingFilter: true }, quit: false };
  if (key.escape) return { ui: { ...ui, filter: "", scroll: resetScroll() }, quit: false };
  if (key.tab || key.rightArrow)
    return { ui: { ...ui, focus: cycle(ui.focus, key.shift ? -1 : 1) }, quit: false };
  if (key.leftArrow) return { ui: { ...ui, focus: cycle(ui.focus, -1) }, quit: false };
  const digit = Number(input);
  if (Number.isInteger(digit) && digit >= 1 && digit <= PANES.length)
    return { ui: { ...ui, focus: PANES[digit - 1]! }, quit: false };
  const by =
    key.upArrow || input === "k"
      ? -1
      : key.downArrow || input === "j"
        ? 1
        : key.pageUp
          ? -PAGE
          : key.pageDown
            ? PAGE
            : 0;
  if (by !== 0) return { ui: scrollBy(ui, by), quit: false };
  if (input === "g") return { ui: { ...ui, scroll: { ...ui.scroll, [ui.focus]: 0 } }, quit: false };
  return same;
}

function cycle(p: PaneId, by: number): PaneId {
  const i = PANES.indexOf(p);
  return PANES[(i + by + PANES.length) % PANES.length]!;
}

function scrollBy(ui: UiState, by: number): UiState {
  // Clamped to the content by the pane (it knows how many rows it has); never below 0 here.
  return { ...ui, scroll: { ...ui.scroll, [ui.focus]: Math.max(0, ui.scroll[ui.focus] + by) } };
}

function resetScroll(): Record<PaneId, number> {
  return { peers: 0, files: 0, feed: 0, log: 0 };
}

/** First row to show: scroll clamped so the last page stays full. */
export function clampScroll(scroll: number, rows: number, visible: number): number {
  return Math.max(0, Math.min(scroll, rows - visible));
}
