import type { StatusJsonWire } from "../admin/admin-status.ts";
// The whole cluster as `pickbox cluster status` and the demo's status view show it: every member with its
// role, voter/learner, indices, lag and last contact as the leader sees them, and a health verdict.
//
// Source: the admin command CLUSTER_JSON on any member (it asks every member for its own status over the
// peer transport). A node that does not know CLUSTER_JSON yet answers `ERROR: Unknown command`; then the
// view is assembled from STATUS_JSON of the contacted node and of every peer at the admin port the
// original's schema implies (raft port + 1000).

import { AdminClientError, adminAddressForRaft, adminRequest } from "../admin/admin-client.ts";
import type { NodeStatus } from "../node/pickbox-node.ts";

export type MemberRole = NodeStatus["role"];

/** What one member says about itself (a subset of NodeStatus, so older replies fit too). */
export interface MemberSelf {
  role: MemberRole;
  term: number;
  leader: string | null;
  commit: number;
  applied: number;
  lastIndex: number;
  files: number;
  bytes: number;
  adminAddress: string | null;
  /** Only the leader fills this: per member, highest replicated index and ms since last heard from. */
  progress: { id: string; match: number; lastContactMs: number | null }[];
}

export interface MemberSnapshot {
  id: string;
  voter: boolean;
  address: string;
  self: MemberSelf | null;
  error: string | null;
}

export type MemberHealth = "ok" | "lagging" | "stale" | "no-leader" | "down";
export type ClusterHealth = "healthy" | "degraded" | "unavailable";

export interface MemberView {
  id: string;
  voter: boolean;
  address: string;
  adminAddress: string | null;
  role: MemberRole | null;
  term: number | null;
  commit: number | null;
  applied: number | null;
  lastIndex: number | null;
  /** Highest index the leader knows this member holds (null without a reachable leader). */
  match: number | null;
  /** Leader's last index minus match. */
  lag: number | null;
  /** Milliseconds since the leader last heard from this member (0 for the leader itself). */
  lastContactMs: number | null;
  files: number | null;
  bytes: number | null;
  health: MemberHealth;
  error: string | null;
}

export interface ClusterView {
  /** The admin address that was asked. */
  via: string;
  leader: string | null;
  term: number | null;
  members: MemberView[];
  voters: number;
  learners: number;
  votersUp: number;
  /** Votes needed for a majority of the voters. */
  quorum: number;
  health: ClusterHealth;
  /** One sentence per thing that is wrong, empty when healthy. */
  problems: string[];
}

/** A member the leader has not heard from for this long is "stale" (election timeout is ~0.5–1 s). */
export const STALE_CONTACT_MS = 3_000;
/** A member this many entries behind the leader is "lagging". */
export const LAGGING_ENTRIES = 1_000;

export interface FetchOptions {
  timeoutMs?: number;
  secret?: string | undefined;
}

/** Asks the member at `addr` for the whole cluster. Throws AdminClientError when it cannot be reached. */
export async function fetchClusterView(addr: string, opts: FetchOptions = {}): Promise<ClusterView> {
  return buildClusterView(addr, await fetchMembers(addr, opts));
}

export async function fetchMembers(addr: string, opts: FetchOptions = {}): Promise<MemberSnapshot[]> {
  const req = { timeoutMs: opts.timeoutMs ?? 5_000, secret: opts.secret };
  const reply = await adminRequest(addr, "CLUSTER_JSON", req);
  if (reply.startsWith("ERROR: Unknown command")) return fetchMembersFromStatus(addr, req);
  if (reply.startsWith("ERROR")) throw new AdminClientError(`${addr}: ${reply.trim()}`, "EREPLY");
  return parseClusterJson(reply);
}

/** Parses a CLUSTER_JSON reply: `{"members":[{id, voter, address, status: NodeStatus|null, error}]}`. */
export function parseClusterJson(text: string): MemberSnapshot[] {
  const parsed = JSON.parse(text) as {
    members?: {
      id: string;
      voter: boolean;
      address: string;
      status: NodeStatus | null;
      error: string | null;
    }[];
  };
  if (!Array.isArray(parsed.members)) throw new Error("CLUSTER_JSON reply has no members array");
  return parsed.members.map((m) => ({
    id: m.id,
    voter: m.voter,
    address: m.address,
    self: m.status ? selfFromNodeStatus(m.status) : null,
    error: m.status ? null : (m.error ?? "no status"),
  }));
}

/** Node status as carried by CLUSTER_JSON. progress[] counts ticks; the tick length is 50 ms unless given. */
export function selfFromNodeStatus(s: NodeStatus): MemberSelf {
  const tickMs = (s as NodeStatus & { tickMs?: number }).tickMs ?? 50;
  return {
    role: s.role,
    term: s.term,
    leader: s.leader,
    commit: s.commit,
    applied: s.applied,
    lastIndex: s.lastIndex,
    files: s.files,
    bytes: s.bytes,
    adminAddress: s.adminAddress ?? null,
    progress: (s.progress ?? []).map((p) => ({
      id: p.id,
      match: p.match,
      lastContactMs: p.ticksSinceContact * tickMs,
    })),
  };
}

function selfFromStatusJson(s: StatusJsonWire, adminAddress: string): MemberSelf {
  const role: MemberRole =
    s.state === "Leader" ? "leader" : s.state === "Follower" ? "follower" : "candidate";
  return {
    role,
    term: s.term,
    leader: s.leader,
    commit: s.commit_index,
    applied: s.applied_index,
    lastIndex: s.last_log_index,
    files: s.files,
    bytes: s.bytes,
    adminAddress,
    progress:
      role === "leader"
        ? s.peers
            .filter((p) => p.match !== null)
            .map((p) => ({ id: p.id, match: p.match ?? 0, lastContactMs: p.last_contact_ms }))
        : [],
  };
}

async function fetchMembersFromStatus(
  addr: string,
  req: { timeoutMs: number; secret: string | undefined },
): Promise<MemberSnapshot[]> {
  const own = JSON.parse(await adminRequest(addr, "STATUS_JSON", req)) as StatusJsonWire;
  return Promise.all(
    own.peers.map(async (p): Promise<MemberSnapshot> => {
      const base = { id: p.id, voter: p.voter, address: p.address };
      if (p.id === own.node) return { ...base, self: selfFromStatusJson(own, addr), error: null };
      try {
        const admin = adminAddressForRaft(p.address);
        const st = JSON.parse(await adminRequest(admin, "STATUS_JSON", req)) as StatusJsonWire;
        return { ...base, self: selfFromStatusJson(st, admin), error: null };
      } catch (err) {
        return { ...base, self: null, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** Pure: members (as fetched) → the view with leader, lag, contact and health. */
export function buildClusterView(via: string, members: MemberSnapshot[]): ClusterView {
  const leaderSnap = pickLeader(members);
  const leaderSelf = leaderSnap?.self ?? null;
  const progress = new Map((leaderSelf?.progress ?? []).map((p) => [p.id, p]));
  const sorted = [...members].sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }));
  const views: MemberView[] = sorted.map((m) => {
    const s = m.self;
    const isLeader = leaderSnap !== null && m.id === leaderSnap.id;
    const p = progress.get(m.id);
    const match = isLeader ? (s?.lastIndex ?? null) : (p?.match ?? null);
    const lag = leaderSelf && match !== null ? Math.max(0, leaderSelf.lastIndex - match) : null;
    const lastContactMs = isLeader ? 0 : (p?.lastContactMs ?? null);
    const view: MemberView = {
      id: m.id,
      voter: m.voter,
      address: m.address,
      adminAddress: s?.adminAddress ?? null,
      role: s?.role ?? null,
      term: s?.term ?? null,
      commit: s?.commit ?? null,
      applied: s?.applied ?? null,
      lastIndex: s?.lastIndex ?? null,
      match,
      lag,
      lastContactMs,
      files: s?.files ?? null,
      bytes: s?.bytes ?? null,
      health: "ok",
      error: m.error,
    };
    view.health = memberHealth(view, leaderSnap !== null, s?.leader ?? null);
    return view;
  });
  const voters = views.filter((v) => v.voter);
  const votersUp = voters.filter((v) => v.health !== "down").length;
  const quorum = Math.floor(voters.length / 2) + 1;
  const problems: string[] = [];
  if (!leaderSnap) problems.push("no leader: no member reports itself as leader");
  if (voters.length > 0 && votersUp < quorum)
    problems.push(`only ${votersUp} of ${voters.length} voters answer; ${quorum} are needed for a majority`);
  for (const v of views) {
    if (v.health === "down") problems.push(`${v.id} does not answer: ${v.error ?? "unknown error"}`);
    else if (v.health === "stale")
      problems.push(`${v.id}: the leader has not heard from it for ${formatMs(v.lastContactMs)}`);
    else if (v.health === "lagging") problems.push(`${v.id} is ${v.lag} entries behind the leader`);
    else if (v.health === "no-leader") problems.push(`${v.id} knows no leader`);
  }
  const health: ClusterHealth =
    !leaderSnap || votersUp < quorum ? "unavailable" : problems.length > 0 ? "degraded" : "healthy";
  return {
    via,
    leader: leaderSnap?.id ?? null,
    term: leaderSelf?.term ?? null,
    members: views,
    voters: voters.length,
    learners: views.length - voters.length,
    votersUp,
    quorum,
    health,
    problems,
  };
}

/** The member that says it leads; with several (a deposed leader not yet told), the highest term wins. */
function pickLeader(members: MemberSnapshot[]): MemberSnapshot | null {
  let best: MemberSnapshot | null = null;
  for (const m of members) {
    if (m.self?.role !== "leader") continue;
    if (!best || (best.self && m.self.term > best.self.term)) best = m;
  }
  return best;
}

function memberHealth(v: MemberView, clusterHasLeader: boolean, knownLeader: string | null): MemberHealth {
  if (v.role === null) return "down";
  if (!knownLeader || !clusterHasLeader) return "no-leader";
  if (v.lastContactMs !== null && v.lastContactMs > STALE_CONTACT_MS) return "stale";
  if (v.lag !== null && v.lag > LAGGING_ENTRIES) return "lagging";
  return "ok";
}

/** `0ms`, `850ms`, `3.2s`, `2m05s`; "-" when unknown. */
export function formatMs(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
