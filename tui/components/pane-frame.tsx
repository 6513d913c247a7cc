import { Box, Text } from "ink";
import type { ReactNode } from "react";
import { fit } from "../format.ts";
import { useColor, useTheme } from "./theme.tsx";

export interface PaneFrameProps {
  title: string;
  /** Right-aligned on the title line (counts, scroll position). */
  info?: string;
  focused: boolean;
  width: number;
  height: number;
  children: ReactNode;
}

/** A pane: one title line (inverse while focused) and exactly height-1 lines of content. */
export function PaneFrame({ title, info = "", focused, width, height, children }: PaneFrameProps) {
  const color = useColor();
  const { unicode } = useTheme();
  const rule = unicode ? "─" : "-";
  const left = `${rule} ${title} `;
  const right = info ? ` ${info} ${rule}` : rule;
  const fill = Math.max(0, width - Array.from(left).length - Array.from(right).length);
  const line = fit(left + rule.repeat(fill) + right, width);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Text bold inverse={focused} color={focused ? undefined : color("cyan")} wrap="truncate">
        {line}
      </Text>
      <Box flexDirection="column" height={height - 1} overflow="hidden">
        {children}
      </Box>
    </Box>
  );
}

/** Visible window of a list: `scroll` clamped so the last page stays full; returns rows and a position hint. */
export function windowOf<T>(rows: T[], scroll: number, visible: number): { shown: T[]; hint: string } {
  const v = Math.max(0, visible);
  const start = Math.max(0, Math.min(scroll, rows.length - v));
  const shown = rows.slice(start, start + v);
  const hint = rows.length > v ? `${start + 1}-${start + shown.length}/${rows.length}` : "";
  return { shown, hint };
}
