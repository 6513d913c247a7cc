import { clockTime, formatBytes, formatDuration } from "../format.ts";
import type { FeedItem, TuiState } from "./types.ts";

export interface FeedRow {
  key: string;
  time: string;
  op: string;
  path: string;
  origin: string;
  size: string;
  /** "3/3": members that reported the entry / members in the cluster. */
  reach: string;
  /** Slowest member's latency estimate (the moment the change reached everywhere). */
  latency: string;
  kind: "normal" | "conflict" | "warning" | "delete";
  detail: string;
}

export function feedKind(item: FeedItem): FeedRow["kind"] {
  if (item.type === "conflict") return "conflict";
  if (item.type === "local-edit-preserved" || item.type === "skip") return "warning";
  if (item.type === "delete") return "delete";
  return "normal";
}

/** Short names for the op column (8 wide). */
export function opLabel(item: FeedItem): string {
  if (item.type === "apply" || item.type === "delete") return item.op;
  if (item.type === "local-edit-preserved") return "kept";
  return item.type;
}

/** Newest first; `filter` keeps entries whose path or origin contains it. */
export function feedModel(s: TuiState, filter = ""): FeedRow[] {
  const needle = filter.toLowerCase();
  const total = s.members.length;
  const out: FeedRow[] = [];
  for (let i = s.feed.length - 1; i >= 0; i--) {
    const it = s.feed[i]!;
    if (needle && !it.path.toLowerCase().includes(needle) && !it.origin.toLowerCase().includes(needle))
      continue;
    const lat = Object.values(it.appliedOn).filter((x): x is number => x !== null);
    const reached = Object.keys(it.appliedOn).length;
    out.push({
      key: it.key,
      time: clockTime(it.at),
      op: opLabel(it),
      path: it.path,
      origin: it.origin,
      size: it.size === null || it.op === "mkdir" || it.op === "rmdir" ? "" : formatBytes(it.size),
      reach: total > 0 ? `${reached}/${total}` : String(reached),
      latency: lat.length > 0 ? formatDuration(Math.max(...lat)) : "-",
      kind: feedKind(it),
      detail: it.detail ?? "",
    });
  }
  return out;
}
