import { Text } from "ink";
import { bar, fit, fitPath } from "../format.ts";
import type { TransferRow } from "../model/transfers-model.ts";
import { useColor, useGlyphs } from "./theme.tsx";

/** Column widths: the file name takes what is left. */
export function transferColumns(width: number) {
  const fixed = 6 + 1 + 14 + 11 + 5 + 16 + 10; // direction, (label's space), route, bar, percent, bytes, rate
  return { dir: 5, label: Math.max(8, width - fixed), route: 13, bar: 10, pct: 4, bytes: 15, rate: 10 };
}

const STATE_COLOR = { active: "cyan", done: "green", failed: "red" } as const;

/**
 * One line per transfer: direction, file, from→to, progress bar, percent, bytes, rate. The end state is
 * a word ("done", "FAILED") in the rate column, so it reads without colour too.
 */
export function TransferLines({ rows, width }: { rows: TransferRow[]; width: number }) {
  const color = useColor();
  const g = useGlyphs();
  const c = transferColumns(width);
  return (
    <>
      {rows.map((r) => {
        const failed = r.state === "failed";
        const tail = r.state === "active" ? r.rate : failed ? "FAILED" : "done";
        const text = [
          fit(r.direction, c.dir),
          fitPath(r.label, c.label),
          fit(`${r.from}${g.arrow}${r.to}`, c.route),
          bar(r.fraction, c.bar, g.barFull, g.barEmpty),
          fit(r.percent, c.pct, "right"),
          fit(r.bytes, c.bytes, "right"),
          fit(tail, c.rate, "right"),
        ].join(" ");
        return (
          <Text
            key={r.key}
            wrap="truncate"
            color={color(STATE_COLOR[r.state])}
            bold={failed}
            inverse={failed}
          >
            {fit(text, width)}
          </Text>
        );
      })}
    </>
  );
}
