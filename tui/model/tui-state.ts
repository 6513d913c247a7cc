// Pure reducers from source updates to TuiState. The store calls them; tests call them directly.

import { transferKey, withTransferEvent } from "./transfers-model.ts";
import type {
  CatchUp,
  ClusterMemberStatus,
  FeedItem,
  FileEntry,
  LogLevel,
  LogLine,
  NodeEventLike,
  TuiState,
} from "./types.ts";

export const FEED_LIMIT = 300;
export const LOG_LIMIT = 500;
/** A latency estimate from the origin's mtime is only trusted below this (older files were not just edited). */
const MAX_MTIME_LATENCY_MS = 60_000;

export function initialState(mode: TuiState["mode"], via: string, self: string | null = null): TuiState {
  return {
    mode,
    self,
    via,
    members: [],
    membersAt: 0,
    clusterError: null,
    files: {},
    feed: [],
    logs: [],
    catchUp: {},
    transfers: {},
  };
}

export function leaderStatus(members: ClusterMemberStatus[]) {
  const leaders = members.filter((m) => m.status?.role === "leader").map((m) => m.status!);
  // Two claimants can coexist briefly after a partition: the higher term is the real one.
  return leaders.sort((a, b) => b.term - a.term)[0] ?? null;
}

/** A new cluster status: members replace the old list; catch-up baselines follow each member's applied index. */
export function withCluster(
  s: TuiState,
  members: ClusterMemberStatus[],
  self: string | null,
  via: string,
  now: number,
): TuiState {
  const leader = leaderStatus(members);
  const catchUp: Record<string, CatchUp> = {};
  if (leader) {
    for (const m of members) {
      if (!m.status || m.id === leader.node) continue;
      const target = leader.commit;
      const applied = m.status.applied;
      if (applied >= target) continue;
      const prev = s.catchUp[m.id];
      catchUp[m.id] = { from: prev && prev.from <= applied ? prev.from : applied, target };
    }
  }
  const ids = new Set(members.map((m) => m.id));
  const files = Object.fromEntries(Object.entries(s.files).filter(([id]) => ids.has(id)));
  let next: TuiState = { ...s, members, membersAt: now, clusterError: null, self, via, catchUp, files };
  next = logMemberChanges(s, next, now);
  return next;
}

/** Role and reachability changes become log lines, so the log pane tells the cluster's story. */
function logMemberChanges(prev: TuiState, next: TuiState, now: number): TuiState {
  const lines: LogLine[] = [];
  const before = new Map(prev.members.map((m) => [m.id, m]));
  for (const m of next.members) {
    const p = before.get(m.id);
    if (!p) {
      if (prev.members.length > 0)
        lines.push(line(now, "info", m.id, `joined as ${m.voter ? "voter" : "learner"}`));
      continue;
    }
    if (p.status && !m.status) lines.push(line(now, "warn", m.id, `unreachable: ${m.error ?? "no answer"}`));
    if (!p.status && m.status) lines.push(line(now, "info", m.id, "reachable again"));
  }
  for (const p of prev.members) {
    if (!next.members.some((m) => m.id === p.id)) lines.push(line(now, "info", p.id, "left the cluster"));
  }
  const oldLeader = leaderStatus(prev.members);
  const newLeader = leaderStatus(next.members);
  if (newLeader && newLeader.node !== oldLeader?.node) {
    lines.push(line(now, "info", null, `leader is ${newLeader.node} (term ${newLeader.term})`));
  }
  return lines.reduce(withLogLine, next);
}

function line(at: number, level: LogLevel, node: string | null, msg: string): LogLine {
  return { at, level, node, msg };
}

export function withClusterError(s: TuiState, error: string, now: number): TuiState {
  const next = { ...s, clusterError: error };
  return s.clusterError === error ? next : withLogLine(next, line(now, "error", null, error));
}

export function withFiles(
  s: TuiState,
  node: string,
  entries: FileEntry[] | null,
  error: string | null,
  now: number,
): TuiState {
  const map = entries ? new Map(entries.map((e) => [e.path, e])) : null;
  return { ...s, files: { ...s.files, [node]: { entries: map, at: now, error } } };
}

export function withLogLine(s: TuiState, l: LogLine): TuiState {
  const logs = s.logs.length >= LOG_LIMIT ? s.logs.slice(s.logs.length - LOG_LIMIT + 1) : s.logs.slice();
  logs.push(l);
  return { ...s, logs };
}

const FEED_TYPES = new Set(["apply", "conflict", "delete", "local-edit-preserved", "skip", "restore"]);

/** Estimated latency of one apply: now − origin mtime when plausible, else the apply's own duration. */
export function eventLatency(e: NodeEventLike): number | null {
  const at = num(e.at);
  const mtime = num(e.mtimeMs);
  if (at !== null && mtime !== null && mtime > 0) {
    const d = at - mtime;
    if (d >= 0 && d < MAX_MTIME_LATENCY_MS) return d;
  }
  return num(e.applyMs);
}

/** One node event: FSM events merge into the feed; raft events become log lines. */
export function withEvent(s: TuiState, e: NodeEventLike, now: number): TuiState {
  const node = str(e.node) ?? null;
  if (e.type === "role") {
    const role = str(e.role) ?? "?";
    if (role === "leader") return withLogLine(s, line(now, "info", node, "became leader"));
    if (role === "candidate" || role === "preCandidate")
      return withLogLine(s, line(now, "warn", node, `started an election (${role})`));
    return s;
  }
  if (e.type === "members") {
    const voters = Array.isArray(e.voters) ? e.voters.join(",") : "";
    const learners = Array.isArray(e.learners) ? e.learners.join(",") : "";
    return withLogLine(
      s,
      line(now, "info", node, `membership: voters [${voters}]${learners ? ` learners [${learners}]` : ""}`),
    );
  }
  if (e.type === "transfer") return withTransfer(s, e, now);
  if (!FEED_TYPES.has(e.type)) return s;
  // A no-op apply (identical content) is noise: the file did not change anywhere.
  if (e.type === "skip" && e.reason === "noop") return s;
  const path = str(e.path) ?? (e.type === "restore" ? "(snapshot)" : "");
  const index = num(e.index) ?? 0;
  const key = `${index}|${e.type}|${path}`;
  const latency = eventLatency(e);
  const at = num(e.at) ?? now;
  const feed = s.feed.slice();
  // Members report the same entry within moments: search only the recent tail.
  for (let i = feed.length - 1; i >= Math.max(0, feed.length - 64); i--) {
    const item = feed[i]!;
    if (item.key !== key) continue;
    if (node) feed[i] = { ...item, appliedOn: { ...item.appliedOn, [node]: latency } };
    return { ...s, feed };
  }
  const item: FeedItem = {
    key,
    at,
    type: e.type,
    op: str(e.op) ?? e.type,
    path,
    origin: str(e.origin) ?? "",
    size: num(e.size),
    index,
    appliedOn: node ? { [node]: latency } : {},
    detail: detailOf(e),
  };
  feed.push(item);
  if (feed.length > FEED_LIMIT) feed.splice(0, feed.length - FEED_LIMIT);
  let next: TuiState = { ...s, feed };
  if (e.type === "conflict")
    next = withLogLine(
      next,
      line(now, "warn", node, `conflict on ${path}: copy at ${str(e.conflictPath) ?? "?"}`),
    );
  return next;
}

/** A transfer's progress; its failure (once) also becomes a log line, with the reason. */
function withTransfer(s: TuiState, e: NodeEventLike, now: number): TuiState {
  const transfers = withTransferEvent(s.transfers, e, now);
  if (transfers === s.transfers) return s;
  const next: TuiState = { ...s, transfers };
  const key = transferKey(str(e.node) ?? "", str(e.id) ?? "");
  const t = next.transfers[key];
  if (t?.state !== "failed" || s.transfers[key]?.state === "failed") return next;
  const what = `${t.direction} of ${t.path ?? "chunks"}`;
  return withLogLine(next, line(now, "warn", t.node, `${what} failed: ${t.error ?? "unknown error"}`));
}

function detailOf(e: NodeEventLike): string | null {
  if (e.type === "conflict") return str(e.conflictPath) ? `copy ${str(e.conflictPath)}` : null;
  if (e.type === "local-edit-preserved") return str(e.movedTo) ? `kept as ${str(e.movedTo)}` : null;
  if (e.type === "skip") return [str(e.reason), str(e.detail)].filter(Boolean).join(": ") || null;
  if (e.type === "restore") return `${num(e.files) ?? 0} files from snapshot`;
  return null;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
