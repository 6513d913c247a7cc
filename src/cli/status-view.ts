// The demo's live status display. `StatusView` is the seam: the plain text view below is what exists today;
// the Ink TUI can implement the same interface and be passed to runDemo instead.

import type { ClusterView } from "./cluster-status.ts";
import { formatHeadline, formatMemberTable } from "./cluster-status-format.ts";

export interface DemoInfo {
  dataDir: string;
  nodes: { id: string; pid: number; folder: string; adminAddress: string }[];
  dashboardUrl: string;
}

export interface StatusView {
  /** Called about once a second with the latest view (or why it could not be fetched). */
  update(view: ClusterView | null, error: string | null): void;
  close(): void;
}

export type StatusViewFactory = (out: NodeJS.WriteStream, info: DemoInfo) => StatusView;

/** The whole screen as plain text: the cluster table plus how to use the demo. */
export function renderDemoScreen(
  info: DemoInfo,
  view: ClusterView | null,
  error: string | null,
  now: Date,
): string {
  const lines = [`Pickbox demo · ${info.nodes.length} nodes · ${now.toLocaleTimeString()}`, ""];
  if (view) lines.push(formatHeadline(view), "", formatMemberTable(view.members));
  else lines.push(`❌ cluster status unavailable: ${error ?? "unknown error"}`);
  if (view && view.problems.length > 0) lines.push("", ...view.problems.map((p) => `  ! ${p}`));
  lines.push(
    "",
    "Folders (edit files in any of them; every node gets the change):",
    ...info.nodes.map((n) => `  ${n.id}  ${n.folder}  (pid ${n.pid}, admin ${n.adminAddress})`),
    `Dashboard: ${info.dashboardUrl}`,
    "",
    "Press Ctrl-C to stop every node.",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * On a terminal: redraws the screen in place (cursor home + clear) on every update. Elsewhere (a pipe, a
 * log file): prints the screen once when the cluster is first seen, then one line whenever the leader or
 * the health changes, so logs stay readable.
 */
export function createPlainStatusView(out: NodeJS.WriteStream, info: DemoInfo): StatusView {
  const tty = Boolean(out.isTTY);
  let lastKey = "";
  return {
    update(view, error) {
      const now = new Date();
      if (tty) {
        out.write(`\x1b[H\x1b[2J${renderDemoScreen(info, view, error, now)}`);
        return;
      }
      const key = view ? `${view.leader}|${view.health}` : `error|${error}`;
      if (key === lastKey) return;
      out.write(
        lastKey === ""
          ? renderDemoScreen(info, view, error, now)
          : `${view ? formatHeadline(view) : `❌ ${error}`}\n`,
      );
      lastKey = key;
    },
    close() {},
  };
}
