import { formatDuration } from "../format.ts";
import { leaderStatus } from "./tui-state.ts";
import type { TuiState } from "./types.ts";

export interface HeaderModel {
  /** e.g. "3 members: 3 voters" */
  cluster: string;
  self: string;
  role: string;
  term: string;
  leader: string;
  /** "commit 42 · applied 42" */
  indexes: string;
  uptime: string;
  via: string;
  /** Shown in place of the summary when the cluster cannot be reached (or data is stale). */
  warning: string | null;
}

/** How long without a fresh cluster status before the header says the data is stale. */
export const STALE_MS = 5000;

export function roleName(role: string | undefined | null): string {
  switch (role) {
    case "leader":
      return "Leader";
    case "follower":
      return "Follower";
    case "candidate":
    case "preCandidate":
      return "Candidate";
    default:
      return "down";
  }
}

export function headerModel(s: TuiState, now: number): HeaderModel {
  const voters = s.members.filter((m) => m.voter).length;
  const learners = s.members.length - voters;
  const self = s.members.find((m) => m.id === s.self)?.status ?? null;
  const leader = leaderStatus(s.members);
  const cluster =
    s.members.length === 0
      ? "no members known yet"
      : `${s.members.length} member${s.members.length === 1 ? "" : "s"}: ${voters} voter${voters === 1 ? "" : "s"}${learners ? `, ${learners} learner${learners === 1 ? "" : "s"}` : ""}`;
  let warning: string | null = null;
  if (s.clusterError) warning = s.clusterError;
  else if (s.membersAt > 0 && now - s.membersAt > STALE_MS)
    warning = `no cluster status for ${formatDuration(now - s.membersAt)}`;
  else if (s.membersAt === 0) warning = `connecting (${s.via})…`;
  const term = Math.max(0, ...s.members.map((m) => m.status?.term ?? 0));
  // The uptime ticks on between polls: add the time since the status was taken.
  const uptime = self ? formatDuration(self.uptimeMs + Math.max(0, now - s.membersAt)) : "-";
  return {
    cluster,
    self: s.self ?? "?",
    role: roleName(self?.role),
    term: self ? String(self.term) : term > 0 ? String(term) : "-",
    leader: leader?.node ?? self?.leader ?? "none",
    indexes: self ? `commit ${self.commit} · applied ${self.applied}` : "commit - · applied -",
    uptime,
    via: s.via,
    warning,
  };
}
