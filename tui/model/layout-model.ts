import type { PaneId } from "./ui-state.ts";

export interface Layout {
  width: number;
  /** Lines of each pane, its title line included; 0 = hidden. */
  panes: Record<PaneId, number>;
  header: number;
  footer: number;
}

/** Lines the frame may use: one less than the terminal, so Ink never takes its clear-the-screen path. */
export function frameHeight(rows: number): number {
  return Math.max(6, rows - 1);
}

/**
 * Splits the terminal among the panes. Peers get what their rows need (up to a third); the rest goes to
 * files, feed and log by weight, the focused pane weighted up. On a tiny terminal only the focused pane shows.
 */
export function layoutPanes(width: number, rows: number, focus: PaneId, members: number): Layout {
  const height = frameHeight(rows);
  const header = 2;
  const footer = 1;
  const avail = height - header - footer;
  const panes: Record<PaneId, number> = { peers: 0, files: 0, feed: 0, log: 0 };
  if (avail < 12) {
    panes[focus] = Math.max(2, avail);
    return { width, panes, header, footer };
  }
  panes.peers = Math.min(2 + Math.max(1, members), Math.max(3, Math.floor(avail * 0.34)));
  const rest = avail - panes.peers;
  const weights: Record<"files" | "feed" | "log", number> = { files: 4, feed: 3, log: 2 };
  if (focus !== "peers") weights[focus] += 3;
  const mins = { files: 3, feed: 2, log: 2 };
  const sum = weights.files + weights.feed + weights.log;
  let used = 0;
  for (const p of ["files", "feed", "log"] as const) {
    panes[p] = Math.max(mins[p], Math.floor((rest * weights[p]) / sum));
    used += panes[p];
  }
  // Rounding leftovers (or overdraft from the minimums) go to / come from the largest pane.
  const largest = (["files", "feed", "log"] as const).reduce((a, b) => (panes[a] >= panes[b] ? a : b));
  panes[largest] += rest - used;
  return { width, panes, header, footer };
}
