// Small text helpers shared by the view models: every string a pane shows is sized here, so the
// components only lay out fixed-width cells and a frame never grows past the terminal.

/** `1.2 KiB`-style sizes (B, KiB, MiB, GiB), short enough for a table cell. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** `850ms`, `4.2s`, `3m05s`, `2h10m`, `3d4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** Wall-clock `HH:MM:SS` in local time. */
export function clockTime(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, "0")).join(":");
}

/** Exactly `width` columns: cut with an ellipsis when too long, padded with spaces when short. */
export function fit(text: string, width: number, align: "left" | "right" = "left"): string {
  if (width <= 0) return "";
  const chars = Array.from(text.replace(/[\u0000-\u001f\u007f]/g, "?"));
  if (chars.length > width) return width === 1 ? "…" : `${chars.slice(0, width - 1).join("")}…`;
  const pad = " ".repeat(width - chars.length);
  return align === "left" ? chars.join("") + pad : pad + chars.join("");
}

/** Cuts the middle of a path so both its folder and file name stay readable. */
export function fitPath(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width || width < 8) return fit(text, width);
  const tail = Math.ceil((width - 1) * 0.6);
  const head = width - 1 - tail;
  return `${chars.slice(0, head).join("")}…${chars.slice(chars.length - tail).join("")}`;
}

/** A text progress bar of `width` cells (`full` then `empty` characters). */
export function bar(fraction: number, width: number, full = "#", empty = "."): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const n = Math.round(f * width);
  return full.repeat(n) + empty.repeat(Math.max(0, width - n));
}
