import { Text } from "ink";
import { fit } from "../format.ts";
import type { UiState } from "../model/ui-state.ts";
import { useColor, useGlyphs } from "./theme.tsx";

export function FooterBar({ ui, width }: { ui: UiState; width: number }) {
  const color = useColor();
  const g = useGlyphs();
  if (ui.editingFilter) {
    return (
      <Text wrap="truncate">
        <Text bold color={color("cyan")}>
          {"/ "}
        </Text>
        <Text>{ui.filter}</Text>
        <Text inverse> </Text>
        <Text dimColor>{fit("   enter keep · esc clear", Math.max(0, width - ui.filter.length - 3))}</Text>
      </Text>
    );
  }
  const keys = `tab ${g.dot} arrows ${g.dot} / filter ${g.dot} ? help ${g.dot} q quit`;
  const filter = ui.filter ? `filter "${ui.filter}" (esc clears)  ` : "";
  return (
    <Text wrap="truncate" dimColor={!ui.filter}>
      {fit(`${filter}${keys}`, width)}
    </Text>
  );
}
