import { Text } from "ink";
import { fit, fitPath } from "../format.ts";
import type { FeedRow } from "../model/feed-model.ts";
import type { TransferRow } from "../model/transfers-model.ts";
import { PaneFrame, windowOf } from "./pane-frame.tsx";
import { useColor, useGlyphs } from "./theme.tsx";
import { TransferLines } from "./transfer-lines.tsx";

interface Props {
  rows: FeedRow[];
  /** Large transfers in progress: progress bars above the feed. */
  transfers?: TransferRow[];
  width: number;
  height: number;
  focused: boolean;
  scroll: number;
}

export function feedColumns(width: number) {
  const fixed = 9 + 9 + 1 + 9 + 10 + 6 + 7; // time, op, (path's space), origin, size, reach, latency
  return { time: 8, op: 8, path: Math.max(10, width - fixed), origin: 8, size: 9, reach: 5, latency: 7 };
}

const KIND_COLOR = { normal: "white", conflict: "red", warning: "yellow", delete: "magenta" } as const;

/** Lines of a feed pane's content the transfers take: all of them if they fit, else at most half. */
export function transferLinesShown(transfers: number, feedRows: number, lines: number): number {
  if (transfers === 0 || lines <= 0) return 0;
  if (feedRows === 0 || transfers + feedRows <= lines) return Math.min(transfers, lines);
  return Math.min(transfers, Math.max(1, Math.ceil(lines / 2)));
}

/**
 * Large transfers first (progress bars), then the feed, newest first: op, path, origin node, size,
 * members reached / members, slowest latency.
 */
export function FeedPane({ rows, transfers = [], width, height, focused, scroll }: Props) {
  const color = useColor();
  const g = useGlyphs();
  const c = feedColumns(width);
  const bars = transferLinesShown(transfers.length, rows.length, height - 1);
  const { shown, hint } = windowOf(rows, scroll, height - 1 - bars);
  const conflicts = rows.filter((r) => r.kind === "conflict").length;
  const moving =
    transfers.length === 0
      ? ""
      : `${bars < transfers.length ? `${bars}/` : ""}${transfers.length} transfer${transfers.length === 1 ? "" : "s"}`;
  const info = [moving, conflicts ? `${conflicts} conflict${conflicts === 1 ? "" : "s"}` : "", hint]
    .filter(Boolean)
    .join(` ${g.dot} `);
  return (
    <PaneFrame title="Replication" info={info} focused={focused} width={width} height={height}>
      <TransferLines rows={transfers.slice(0, bars)} width={width} />
      {shown.length === 0 && bars === 0 ? (
        <Text dimColor>{fit("no replication events yet: edit a file in any node's folder", width)}</Text>
      ) : null}
      {shown.map((r) => {
        // With a detail (a conflict's copy) the path comes first and the detail is cut at its end.
        const path = r.detail ? fit(`${r.path} (${r.detail})`, c.path) : fitPath(r.path, c.path);
        const hot = r.kind === "conflict";
        return (
          <Text key={r.key} wrap="truncate" color={color(KIND_COLOR[r.kind])} bold={hot} inverse={hot}>
            {[
              fit(r.time, c.time),
              fit(r.op, c.op),
              path,
              fit(r.origin, c.origin),
              fit(r.size, c.size, "right"),
              fit(r.reach, c.reach, "right"),
              fit(r.latency, c.latency, "right"),
            ].join(" ")}
          </Text>
        );
      })}
    </PaneFrame>
  );
}
