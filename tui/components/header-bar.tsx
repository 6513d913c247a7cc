import { Box, Text } from "ink";
import { fit } from "../format.ts";
import type { HeaderModel } from "../model/header-model.ts";
import { useColor, useGlyphs } from "./theme.tsx";

export function roleColor(role: string): string {
  if (role === "Leader") return "green";
  if (role === "Candidate") return "yellow";
  if (role === "down") return "red";
  return "blue";
}

/** Two lines: the cluster and how it is reached; this node's raft state (or a warning). */
export function HeaderBar({ model, width }: { model: HeaderModel; width: number }) {
  const color = useColor();
  const g = useGlyphs();
  const right = `up ${model.uptime}`;
  const left = `Pickbox ${g.dot} cluster: ${model.cluster} ${g.dot} ${model.via}`;
  const gap = Math.max(1, width - Array.from(left).length - right.length);
  const line1 = fit(left + " ".repeat(gap) + right, width);
  return (
    <Box flexDirection="column" width={width} height={2}>
      <Text bold wrap="truncate">
        {line1}
      </Text>
      <Text wrap="truncate">
        <Text bold>{model.self}</Text>
        <Text> </Text>
        <Text bold color={color(roleColor(model.role))} inverse={model.role === "down"}>
          {model.role}
        </Text>
        <Text>{`  term ${model.term}  leader `}</Text>
        <Text bold color={color("green")}>
          {model.leader}
        </Text>
        <Text>{`  ${model.indexes}`}</Text>
        {model.warning ? <Text color={color("red")} bold>{`  ${g.dot} ${model.warning}`}</Text> : null}
      </Text>
    </Box>
  );
}
