import { formatGoDuration } from "./go-format.ts";
import { type LegacyState, legacyState } from "./legacy-json.ts";
import type { ClusterMemberStatus, NodeStatus } from "./monitored-node.ts";

/** One row of the dashboard's node table: what the member says about itself plus the leader's view of it. */
export interface MemberView {
  id: string;
  voter: boolean;
  /** Raft address from the configuration. */
  address: string;
  up: boolean;
  /** Why the member did not answer (null when up). */
  error: string | null;
  state: LegacyState | null;
  term: number | null;
  commit: number | null;
  applied: number | null;
  lastIndex: number | null;
  /** Entries committed by the leader that this member has not applied yet (null: no leader, or down). */
  lag: number | null;
  /** Leader's view: entries between its last index and this member's match index. */
  replicationLag: number | null;
  /** Leader's view: ms since it last heard from this member. */
  lastContactMs: number | null;
  files: number | null;
  bytes: number | null;
  uptime: string | null;
  monitorAddress: string | null;
}

/** Rows for every member, leader first then by id; members that did not answer show as down. */
export function clusterView(members: ClusterMemberStatus[], tickMs: number): MemberView[] {
  const leader = pickLeader(members.map((m) => m.status).filter((s): s is NodeStatus => s !== null));
  const progress = new Map((leader?.progress ?? []).map((p) => [p.id, p]));
  const rows = members.map((m): MemberView => {
    const s = m.status;
    const p = progress.get(m.id);
    const isLeader = leader !== null && m.id === leader.node;
    return {
      id: m.id,
      voter: m.voter,
      address: m.address,
      up: s !== null,
      error: s ? null : (m.error ?? "no answer"),
      state: s ? legacyState(s.role) : null,
      term: s?.term ?? null,
      commit: s?.commit ?? null,
      applied: s?.applied ?? null,
      lastIndex: s?.lastIndex ?? null,
      lag: s && leader ? Math.max(0, leader.commit - s.applied) : null,
      replicationLag: isLeader ? 0 : p && leader ? Math.max(0, leader.lastIndex - p.match) : null,
      lastContactMs: isLeader ? 0 : p ? p.ticksSinceContact * tickMs : null,
      files: s?.files ?? null,
      bytes: s?.bytes ?? null,
      uptime: s ? formatGoDuration(s.uptimeMs) : null,
      monitorAddress: s?.monitorAddress ?? null,
    };
  });
  return rows.sort((a, b) => {
    const la = leader && a.id === leader.node ? 0 : 1;
    const lb = leader && b.id === leader.node ? 0 : 1;
    return la - lb || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  });
}

/** The member that says it leads; with two (an old leader not yet told), the higher term wins. */
function pickLeader(statuses: NodeStatus[]): NodeStatus | null {
  let best: NodeStatus | null = null;
  for (const s of statuses) {
    if (s.role !== "leader") continue;
    if (!best || s.term > best.term) best = s;
  }
  return best;
}
