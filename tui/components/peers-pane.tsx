import { Text } from "ink";
import { bar, fit } from "../format.ts";
import type { Health, PeerRow } from "../model/peers-model.ts";
import { roleColor } from "./header-bar.tsx";
import { PaneFrame, windowOf } from "./pane-frame.tsx";
import { useColor, useGlyphs } from "./theme.tsx";

export function healthColor(h: Health): string {
  if (h === "ok") return "green";
  if (h === "down") return "red";
  return "yellow";
}

interface Props {
  rows: PeerRow[];
  width: number;
  height: number;
  focused: boolean;
  scroll: number;
}

/** Column widths for `width`: the address column absorbs the slack. */
export function peerColumns(width: number) {
  const fixed = 9 + 8 + 10 + 8 + 6 + 8; // id, kind, role, match, lag, contact (each + 1 space)
  const address = Math.max(10, Math.min(21, width - fixed - 16));
  const health = Math.max(8, width - fixed - address - 1);
  return { id: 8, address, kind: 7, role: 9, match: 7, lag: 5, contact: 7, health };
}

export function PeersPane({ rows, width, height, focused, scroll }: Props) {
  const color = useColor();
  const g = useGlyphs();
  const c = peerColumns(width);
  const { shown, hint } = windowOf(rows, scroll, height - 2);
  const head = [
    fit("ID", c.id),
    fit("ADDRESS", c.address),
    fit("KIND", c.kind),
    fit("ROLE", c.role),
    fit("MATCH", c.match, "right"),
    fit("LAG", c.lag, "right"),
    fit("CONTACT", c.contact, "right"),
    "HEALTH",
  ].join(" ");
  return (
    <PaneFrame title={`Peers (${rows.length})`} info={hint} focused={focused} width={width} height={height}>
      <Text dimColor wrap="truncate">
        {fit(head, width)}
      </Text>
      {shown.map((r) => {
        const progress =
          r.progress === null
            ? ""
            : ` ${bar(r.progress, 8, g.barFull, g.barEmpty)} ${Math.floor(r.progress * 100)}%`;
        const tail = `${r.health}${progress}${r.note ? ` ${r.note}` : ""}`;
        return (
          <Text key={r.id} wrap="truncate">
            <Text bold={r.isSelf}>{`${fit(r.isSelf ? `${r.id}*` : r.id, c.id)} `}</Text>
            <Text>{`${fit(r.address, c.address)} ${fit(r.kind, c.kind)} `}</Text>
            <Text color={color(roleColor(r.role))}>{`${fit(r.role, c.role)} `}</Text>
            <Text>{`${fit(r.match, c.match, "right")} ${fit(r.lag, c.lag, "right")} ${fit(r.contact, c.contact, "right")} `}</Text>
            <Text color={color(healthColor(r.health))} bold={r.health !== "ok"} inverse={r.health === "down"}>
              {fit(tail, c.health)}
            </Text>
          </Text>
        );
      })}
    </PaneFrame>
  );
}
