import type { StatusJsonWire } from "../../src/admin/admin-status.ts";
// Parsing of admin protocol replies the TUI reads: FILES, CLUSTER_JSON and (fallback) STATUS_JSON.
import type { ClusterMemberStatus, FileEntry, NodeStatus } from "../model/types.ts";

/** Thrown for an `ERROR: ...` reply; `unknownCommand` when the node predates the command. */
export class AdminReplyError extends Error {
  override name = "AdminReplyError";
  get unknownCommand(): boolean {
    return /unknown command/i.test(this.message);
  }
}

function rejectError(reply: string): void {
  if (reply.startsWith("ERROR:")) throw new AdminReplyError(reply.trim());
}

/** `path<TAB>size<TAB>hash12<TAB>mode` lines. */
export function parseFilesReply(reply: string): FileEntry[] {
  rejectError(reply);
  const out: FileEntry[] = [];
  for (const line of reply.split("\n")) {
    if (line === "") continue;
    const parts = line.split("\t");
    if (parts.length < 3) continue;
    const size = Number(parts[1]);
    out.push({ path: parts[0]!, size: Number.isFinite(size) ? size : 0, hash: parts[2]! });
  }
  return out;
}

/** `{"members":[{id, voter, address, status, error}]}`. */
export function parseClusterReply(reply: string): ClusterMemberStatus[] {
  rejectError(reply);
  const parsed = JSON.parse(reply) as { members?: unknown };
  if (!Array.isArray(parsed.members)) throw new Error("CLUSTER_JSON reply without members");
  return parsed.members.map((m: Record<string, unknown>) => ({
    id: String(m.id),
    voter: m.voter !== false,
    address: typeof m.address === "string" ? m.address : "",
    status: m.status && typeof m.status === "object" ? (m.status as NodeStatus) : null,
    error: typeof m.error === "string" ? m.error : null,
  }));
}

/**
 * Fallback for a node without CLUSTER_JSON: its own STATUS_JSON as a member list in which only the
 * answering node has a status (the others are listed with an explanation).
 */
export function clusterFromStatusJson(
  reply: string,
  adminAddress: string,
  tickMs = 50,
): ClusterMemberStatus[] {
  rejectError(reply);
  const s = JSON.parse(reply) as StatusJsonWire;
  const role = s.state === "Leader" ? "leader" : s.state === "Candidate" ? "candidate" : "follower";
  const peers = Array.isArray(s.peers) ? s.peers : [];
  const status: NodeStatus = {
    node: s.node,
    role,
    term: s.term,
    leader: s.leader,
    leaderAddress: s.leader_addr,
    leaderAdmin: s.leader_admin,
    commit: s.commit_index,
    applied: s.applied_index,
    lastIndex: s.last_log_index,
    voters: peers.filter((p) => p.voter).map((p) => p.id),
    learners: peers.filter((p) => !p.voter).map((p) => p.id),
    addresses: Object.fromEntries(peers.map((p) => [p.id, p.address])),
    progress:
      role === "leader"
        ? peers
            .filter((p) => p.match !== null)
            .map((p) => ({
              id: p.id,
              address: p.address,
              voter: p.voter,
              match: p.match ?? 0,
              next: (p.match ?? 0) + 1,
              state: "replicate" as const,
              ticksSinceContact: Math.round((p.last_contact_ms ?? 0) / tickMs),
            }))
        : [],
    files: s.files,
    bytes: s.bytes,
    uptimeMs: s.uptime_ms,
    raftAddress: peers.find((p) => p.id === s.node)?.address ?? "",
    adminAddress,
    monitorAddress: "",
    clientAddress: "",
    pendingChanges: 0,
  };
  const members = peers.length > 0 ? peers : [{ id: s.node, address: "", voter: true }];
  return members.map((p) => ({
    id: p.id,
    voter: p.voter,
    address: p.address,
    status: p.id === s.node ? status : null,
    error: p.id === s.node ? null : "this node has no CLUSTER_JSON: only its own status is known",
  }));
}

/** The address to reach a member's admin port: its advertised admin address, with a wildcard bind
 * (0.0.0.0 / ::) replaced by the host of its raft address. */
export function memberAdminAddress(m: ClusterMemberStatus): string | null {
  const a = m.status?.adminAddress;
  if (!a) return null;
  const wildcard = /^(0\.0\.0\.0|\[::\]|::):(\d+)$/.exec(a);
  if (!wildcard) return a;
  const host = /^(.*):\d+$/.exec(m.address)?.[1] ?? "127.0.0.1";
  return `${host}:${wildcard[2]}`;
}
