// What STATUS, STATUS_JSON, PEERS and FILES report, as plain data the node fills in, and how each is
// rendered on the wire. The text forms are `key: value` lines a person (or `grep`) can read; STATUS_JSON
// is the same data as one JSON line for tools.

/** Raft role as the original (hashicorp/raft) spelled it; PreCandidate shows as Candidate. */
export type AdminRole = "Leader" | "Follower" | "Candidate";

export interface AdminPeerStatus {
  id: string;
  /** Raft address of the member. */
  address: string;
  voter: boolean;
  /** Highest log index known replicated to this member (leader only; null elsewhere). */
  match: number | null;
  /** Leader's last index minus match (leader only; null elsewhere). */
  lag: number | null;
  /** Milliseconds since the leader last heard from this member (leader only; null elsewhere). */
  lastContactMs: number | null;
}

export interface AdminStatus {
  node: string;
  state: AdminRole;
  term: number;
  /** Leader's node id, or null while there is none. */
  leader: string | null;
  /** Leader's raft address. */
  leaderAddr: string | null;
  /** Leader's admin address, when known. */
  leaderAdmin: string | null;
  /** Every member of the current configuration, this node included. */
  peers: AdminPeerStatus[];
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  files: number;
  bytes: number;
  uptimeMs: number;
  version: string;
}

export interface AdminFileInfo {
  path: string;
  size: number;
  /** Full lowercase hex SHA-256 of the content; FILES prints the first 12 characters. */
  hash: string;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

/** Maps the raft core's role names onto the names STATUS prints. */
export function adminRole(role: "follower" | "candidate" | "preCandidate" | "leader"): AdminRole {
  if (role === "leader") return "Leader";
  if (role === "follower") return "Follower";
  return "Candidate";
}

const NONE = "none";
const orDash = (n: number | null) => (n === null ? "-" : String(n));

/** `<id> <addr> <voter|learner> match=<n> lag=<n> last_contact=<ms>ms` ("-" where unknown). */
export function formatPeer(p: AdminPeerStatus): string {
  const contact = p.lastContactMs === null ? "-" : `${Math.round(p.lastContactMs)}ms`;
  return `${p.id} ${p.address} ${p.voter ? "voter" : "learner"} match=${orDash(p.match)} lag=${orDash(p.lag)} last_contact=${contact}`;
}

/** The STATUS reply: one `key: value` per line, peers as repeated `peer:` lines, newline-terminated. */
export function formatStatus(s: AdminStatus): string {
  const lines = [
    `node: ${s.node}`,
    `state: ${s.state}`,
    `term: ${s.term}`,
    `leader: ${s.leader ?? NONE}`,
    `leader_addr: ${s.leaderAddr ?? NONE}`,
    `leader_admin: ${s.leaderAdmin ?? NONE}`,
    `peers: ${s.peers.length}`,
    ...s.peers.map((p) => `peer: ${formatPeer(p)}`),
    `commit_index: ${s.commitIndex}`,
    `applied_index: ${s.appliedIndex}`,
    `last_log_index: ${s.lastLogIndex}`,
    `files: ${s.files}`,
    `bytes: ${s.bytes}`,
    `uptime: ${formatUptime(s.uptimeMs)}`,
    `version: ${s.version}`,
  ];
  return `${lines.map(oneLine).join("\n")}\n`;
}

/** The PEERS reply: one formatPeer line per member (no lines for an empty configuration). */
export function formatPeers(s: AdminStatus): string {
  return s.peers.map((p) => `${oneLine(formatPeer(p))}\n`).join("");
}

/** The FILES reply: `path<TAB>size<TAB>hash12<TAB>mode` per file (paths never contain control characters). */
export function formatFiles(files: AdminFileInfo[]): string {
  return files
    .map(
      (f) =>
        `${oneLine(f.path)}\t${f.size}\t${f.hash.slice(0, 12)}\t${f.mode.toString(8).padStart(4, "0")}\n`,
    )
    .join("");
}

/** One STATUS_JSON reply as it travels (what statusJson() writes and clients parse). */
export interface StatusJsonWire {
  node: string;
  state: AdminRole;
  term: number;
  leader: string | null;
  leader_addr: string | null;
  leader_admin: string | null;
  peers: {
    id: string;
    address: string;
    voter: boolean;
    match: number | null;
    lag: number | null;
    last_contact_ms: number | null;
  }[];
  commit_index: number;
  applied_index: number;
  last_log_index: number;
  files: number;
  bytes: number;
  uptime_ms: number;
  version: string;
}

/** The STATUS_JSON reply: snake_case keys matching the STATUS text, plus uptime_ms. */
export function statusJson(s: AdminStatus): string {
  return `${JSON.stringify({
    node: s.node,
    state: s.state,
    term: s.term,
    leader: s.leader,
    leader_addr: s.leaderAddr,
    leader_admin: s.leaderAdmin,
    peers: s.peers.map((p) => ({
      id: p.id,
      address: p.address,
      voter: p.voter,
      match: p.match,
      lag: p.lag,
      last_contact_ms: p.lastContactMs,
    })),
    commit_index: s.commitIndex,
    applied_index: s.appliedIndex,
    last_log_index: s.lastLogIndex,
    files: s.files,
    bytes: s.bytes,
    uptime_ms: s.uptimeMs,
    version: s.version,
  } satisfies StatusJsonWire)}\n`;
}

/** `3d4h5m6s`-style, whole seconds (sub-second uptimes print as `0s`). */
export function formatUptime(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = "";
  if (d) out += `${d}d`;
  if (d || h) out += `${h}h`;
  if (d || h || m) out += `${m}m`;
  return `${out}${s}s`;
}

/** A reply line must stay one line whatever a node id or message contains. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}
