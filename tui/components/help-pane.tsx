import { Box, Text } from "ink";
import { fit } from "../format.ts";
import { PaneFrame } from "./pane-frame.tsx";
import { useGlyphs } from "./theme.tsx";

export function HelpPane({ width, height }: { width: number; height: number }) {
  const g = useGlyphs();
  const lines = [
    "Keys",
    "  tab / shift-tab, ← →   move between panes (1-4 jump to a pane)",
    "  ↑ ↓ (j k), PgUp PgDn   scroll the focused pane; g back to the top",
    "  /                      filter files, replication and log by text; enter keeps it",
    "  esc                    clear the filter",
    "  ?                      this help (any key closes it)",
    "  q, ctrl-c              quit",
    "",
    "Files: one short SHA-256 per node.",
    `  ${g.agreed} agreed    every reachable node has the file with one hash`,
    `  ${g.differs} differ    hashes differ (a change is still spreading, or a problem)`,
    `  ${g.partial} n/m       the file reached n of m reachable nodes so far`,
    "  ? in a cell: that node is down or its list is unknown; - : it lacks the file",
    "Replication: newest first; n/m = nodes that applied the entry; latency = slowest",
    "  node's delay since the file was written (or the apply time). Conflicts stand out.",
    `  Large files in transit show on top: from${g.arrow}to, progress bar, bytes, rate.`,
    "Peers: match/lag and last contact as the leader sees them; * = this node.",
  ];
  return (
    <PaneFrame title="Help" focused width={width} height={height}>
      <Box flexDirection="column">
        {lines.slice(0, Math.max(0, height - 1)).map((l, i) => (
          <Text key={l || "blank"} wrap="truncate" bold={i === 0}>
            {fit(l, width)}
          </Text>
        ))}
      </Box>
    </PaneFrame>
  );
}
