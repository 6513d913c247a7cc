import { clockTime } from "../format.ts";
import type { LogLine, TuiState } from "./types.ts";

export interface LogRow {
  key: string;
  time: string;
  level: LogLine["level"];
  text: string;
}

/** Newest first by each line's own time (file lines and events arrive out of order); `filter` keeps lines containing it. */
export function logModel(s: TuiState, filter = ""): LogRow[] {
  const needle = filter.toLowerCase();
  const out: (LogRow & { at: number })[] = [];
  for (let i = s.logs.length - 1; i >= 0; i--) {
    const l = s.logs[i]!;
    const text = l.node ? `${l.node}: ${l.msg}` : l.msg;
    if (needle && !text.toLowerCase().includes(needle)) continue;
    out.push({ key: `${i}:${l.at}`, time: clockTime(l.at), level: l.level, text, at: l.at });
  }
  // Stable: lines with the same time keep newest-arrival first.
  return out.sort((a, b) => b.at - a.at).map(({ at: _at, ...row }) => row);
}
