import type { PaneId } from "./ui-state.ts";

export interface Layout {
  width: number;
  /** Lines of each pane, its title line included; 0 = hidden. */
  panes: Record<PaneId, number>;
  header: number;
  footer: number;
}

/** Lines each pane could use to show all its content (title and column header included). */
export type PaneDemand = Record<PaneId, number>;

/** Lines the frame may use: one less than the terminal, so Ink never takes its clear-the-screen path. */
export function frameHeight(rows: number): number {
  return Math.max(6, rows - 1);
}

const MIN: Record<PaneId, number> = { peers: 3, files: 3, feed: 2, log: 2 };
const WEIGHT: Record<PaneId, number> = { peers: 2, files: 4, feed: 3, log: 2 };
const ORDER: PaneId[] = ["peers", "files", "feed", "log"];

/**
 * Splits the terminal among the panes. Every pane gets its minimum; then lines go one at a time to the
 * pane furthest below its weighted share among those that still have content to show (the focused
 * pane weighted up); what nobody needs goes to the feed and the log. On a tiny terminal only
 * the focused pane shows.
 */
export function layoutPanes(width: number, rows: number, focus: PaneId, demand: PaneDemand): Layout {
  const height = frameHeight(rows);
  const header = 2;
  const footer = 1;
  const avail = height - header - footer;
  const panes: Record<PaneId, number> = { peers: 0, files: 0, feed: 0, log: 0 };
  if (avail < 12) {
    panes[focus] = Math.max(2, avail);
    return { width, panes, header, footer };
  }
  const weight = { ...WEIGHT, [focus]: WEIGHT[focus] + 3 };
  for (const p of ORDER) panes[p] = MIN[p];
  let left = avail - ORDER.reduce((n, p) => n + panes[p], 0);
  while (left > 0) {
    const wanting = ORDER.filter((p) => panes[p] < demand[p]);
    if (wanting.length === 0) break;
    const next = wanting.reduce((a, b) => (panes[a] / weight[a] <= panes[b] / weight[b] ? a : b));
    panes[next]++;
    left--;
  }
  // Nobody needs more now: the feed and the log are what grow next, so they take the rest (3:2).
  const toFeed = Math.ceil((left * 3) / 5);
  panes.feed += toFeed;
  panes.log += left - toFeed;
  return { width, panes, header, footer };
}
