import { Text } from "ink";
import { fit, fitPath } from "../format.ts";
import type { FeedRow } from "../model/feed-model.ts";
import { PaneFrame, windowOf } from "./pane-frame.tsx";
import { useColor, useGlyphs } from "./theme.tsx";

interface Props {
  rows: FeedRow[];
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

/** Newest first: op, path, origin node, size, members reached / members, slowest latency. */
export function FeedPane({ rows, width, height, focused, scroll }: Props) {
  const color = useColor();
  const g = useGlyphs();
  const c = feedColumns(width);
  const { shown, hint } = windowOf(rows, scroll, height - 1);
  const conflicts = rows.filter((r) => r.kind === "conflict").length;
  const info = [conflicts ? `${conflicts} conflict${conflicts === 1 ? "" : "s"}` : "", hint]
    .filter(Boolean)
    .join(` ${g.dot} `);
  return (
    <PaneFrame title="Replication" info={info} focused={focused} width={width} height={height}>
      {shown.length === 0 ? (
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
