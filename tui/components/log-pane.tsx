import { Text } from "ink";
import { fit } from "../format.ts";
import type { LogRow } from "../model/log-model.ts";
import { PaneFrame, windowOf } from "./pane-frame.tsx";
import { useColor } from "./theme.tsx";

const LEVEL_COLOR = { debug: "gray", info: "white", warn: "yellow", error: "red" } as const;

export function LogPane({
  rows,
  width,
  height,
  focused,
  scroll,
}: {
  rows: LogRow[];
  width: number;
  height: number;
  focused: boolean;
  scroll: number;
}) {
  const color = useColor();
  const { shown, hint } = windowOf(rows, scroll, height - 1);
  return (
    <PaneFrame title="Log" info={hint} focused={focused} width={width} height={height}>
      {shown.map((r) => (
        <Text key={r.key} wrap="truncate" color={color(LEVEL_COLOR[r.level])} bold={r.level === "error"}>
          {fit(`${r.time} ${fit(r.level, 5)} ${r.text}`, width)}
        </Text>
      ))}
    </PaneFrame>
  );
}
