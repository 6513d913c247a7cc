import { formatDuration } from "../format.ts";
import { roleName } from "./header-model.ts";
import { leaderStatus } from "./tui-state.ts";
import type { TuiState } from "./types.ts";

export type Health = "ok" | "lagging" | "catching-up" | "slow" | "electing" | "down" | "unknown";

export interface PeerRow {
  id: string;
  address: string;
  kind: "voter" | "learner";
  role: string;
  isSelf: boolean;
  match: string;
  lag: string;
  contact: string;
  health: Health;
  /** Free text after the health word, e.g. an error or "3 changes queued". */
  note: string;
  /** Catch-up progress 0..1 while the member's applied index is behind the leader's commit; else null. */
  progress: number | null;
}

export interface PeersOptions {
  /** Raft tick length in ms, to turn ticksSinceContact into time (the node default is 50). */
  tickMs?: number;
  /** Contact older than this marks a member slow (default: 1 s, several heartbeats). */
  slowContactMs?: number;
}

/** Natural order: node2 before node10. */
export function compareIds(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

export function peersModel(s: TuiState, o: PeersOptions = {}): PeerRow[] {
  const tickMs = o.tickMs ?? 50;
  const slowMs = o.slowContactMs ?? 1000;
  const leader = leaderStatus(s.members);
  const progress = new Map((leader?.progress ?? []).map((p) => [p.id, p]));
  return s.members
    .slice()
    .sort((a, b) => compareIds(a.id, b.id))
    .map((m): PeerRow => {
      const st = m.status;
      const p = progress.get(m.id);
      const isLeader = leader !== null && m.id === leader.node;
      const match = isLeader ? leader.lastIndex : (p?.match ?? null);
      const lag = leader && match !== null ? Math.max(0, leader.lastIndex - match) : null;
      const contactMs = isLeader || !p ? null : p.ticksSinceContact * tickMs;
      const cu = s.catchUp[m.id];
      let health: Health;
      let note = "";
      if (!st) {
        health = "down";
        note = m.error ?? "";
      } else if (st.role === "candidate" || st.role === "preCandidate") health = "electing";
      else if (!leader) health = "unknown";
      else if (contactMs !== null && contactMs > slowMs) health = "slow";
      else if (cu) health = "catching-up";
      else if (lag !== null && lag > 0) health = "lagging";
      else health = "ok";
      if (st && st.pendingChanges > 0)
        note = `${st.pendingChanges} local change${st.pendingChanges === 1 ? "" : "s"} queued`;
      const prog =
        cu && st ? (cu.target > cu.from ? (st.applied - cu.from) / (cu.target - cu.from) : 1) : null;
      return {
        id: m.id,
        address: m.address,
        kind: m.voter ? "voter" : "learner",
        role: roleName(st?.role),
        isSelf: m.id === s.self,
        match: match === null ? "-" : String(match),
        lag: lag === null ? "-" : String(lag),
        contact: isLeader ? "self" : contactMs === null ? "-" : formatDuration(contactMs),
        health,
        note,
        progress: prog,
      };
    });
}
