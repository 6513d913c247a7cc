// Follows a node's pino JSON log file (in-process mode: the node logs only to its file while the TUI
// owns the terminal) and hands each new line to the log pane.
import { open, stat } from "node:fs/promises";
import type { LogLevel } from "../model/types.ts";

export interface ParsedLogLine {
  level: LogLevel;
  node: string | null;
  msg: string;
  /** The line's own time (pino's ISO or epoch-ms `time`), when it has one. */
  at: number | null;
}

const SKIP = new Set(["level", "time", "pid", "hostname", "node", "msg"]);

/** One pino line → level, node and `msg k=v k=v`; null for a line that is not pino JSON. */
export function parsePinoLine(line: string): ParsedLogLine | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof o !== "object" || o === null) return null;
  const n = typeof o.level === "number" ? o.level : 30;
  const level: LogLevel = n >= 50 ? "error" : n >= 40 ? "warn" : n >= 30 ? "info" : "debug";
  const extras = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  const msg = [typeof o.msg === "string" ? o.msg : "", ...extras].filter(Boolean).join(" ");
  const t =
    typeof o.time === "number" ? o.time : typeof o.time === "string" ? Date.parse(o.time) : Number.NaN;
  return { level, node: typeof o.node === "string" ? o.node : null, msg, at: Number.isFinite(t) ? t : null };
}

export interface LogTailOptions {
  file: string;
  onLine: (l: ParsedLogLine) => void;
  everyMs?: number;
  /** Start this many bytes before the end, so the pane opens with recent context. */
  backlogBytes?: number;
}

/** Polls the file for appended bytes; returns a stop function. A truncated file is read from 0 again. */
export function tailLog(o: LogTailOptions): () => void {
  let offset = -1;
  let partial = "";
  let busy = false;
  let stopped = false;
  const read = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      const st = await stat(o.file).catch(() => null);
      if (!st) return;
      if (offset < 0) offset = Math.max(0, st.size - (o.backlogBytes ?? 16 * 1024));
      if (st.size < offset) offset = 0;
      if (st.size === offset) return;
      const fh = await open(o.file, "r");
      try {
        const len = Math.min(st.size - offset, 1024 * 1024);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        offset += bytesRead;
        const text = partial + buf.subarray(0, bytesRead).toString("utf8");
        const lines = text.split("\n");
        partial = lines.pop() ?? "";
        for (const l of lines) {
          const parsed = l.trim() ? parsePinoLine(l) : null;
          if (parsed && !stopped) o.onLine(parsed);
        }
      } finally {
        await fh.close();
      }
    } finally {
      busy = false;
    }
  };
  // The file can vanish between stat and open (rotated, or its folder removed): try again next time.
  void read().catch(() => {});
  const timer = setInterval(() => void read().catch(() => {}), o.everyMs ?? 500);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
