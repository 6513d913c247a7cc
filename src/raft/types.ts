// Shared vocabulary of the Raft layer. The core (src/raft/core) consumes and produces only these
// plain-data shapes, so they can be persisted (bun:sqlite), framed (msgpackr) and replayed in simulation.

export type NodeId = string;

export const EntryType = {
  /** Application data for the FSM (may be empty: a new leader's no-op). */
  Normal: 0,
  /** A membership change; `data` is an encoded ConfChange (see encodeConfChange). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before any message that depends on it is sent (Raft §5, Figure 2). */
export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

/** Cluster membership. Addresses travel with the configuration so every node can dial every member. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** Raft transport address ("host:port") of every voter and learner. */
  addresses: Record<NodeId, string>;
}

export type ConfChangeType = "addVoter" | "addLearner" | "promote" | "remove";

/** Single-server membership change (Raft dissertation §4.1): at most one uncommitted at a time. */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Required for addVoter / addLearner. */
  address?: string;
}

export interface SnapshotMeta {
  /** Last log index covered by the snapshot. */
  index: number;
  /** Term of the entry at `index`. */
  term: number;
  /** Membership as of `index`. */
  confState: ConfState;
}

export type MessageType =
  | "app" // AppendEntries (also carries commit index)
  | "appResp"
  | "vote"
  | "voteResp"
  | "preVote"
  | "preVoteResp"
  | "heartbeat"
  | "heartbeatResp"
  | "snap" // InstallSnapshot; bulk data travels beside the message (Transport.sendSnapshot)
  | "timeoutNow" // leadership transfer: the target campaigns immediately
  | "readIndex" // follower -> leader: please confirm leadership for this read
  | "readIndexResp";

/**
 * One Raft message. A single flat shape (etcd's raftpb.Message) keeps framing and simulation simple;
 * each type uses the fields documented next to it and leaves the others at their zero value.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: prevLogTerm; vote/preVote: lastLogTerm; appResp(reject): term of the conflicting entry hint. */
  logTerm: number;
  /** app: prevLogIndex; vote/preVote: lastLogIndex; appResp: match index (or rejected index). */
  index: number;
  /** app only. */
  entries: Entry[];
  /** app/heartbeat: leader's commit index. */
  commit: number;
  /** appResp/voteResp/preVoteResp: true when refused. */
  reject: boolean;
  /** appResp(reject): the follower's last index, for fast back-off. */
  rejectHint: number;
  /** snap only: metadata of the snapshot being installed. */
  snapshot: SnapshotMeta | null;
  /** heartbeat/heartbeatResp/readIndex/readIndexResp: opaque read-request context. */
  context: string;
  /** vote: set when campaigning because of a leadership transfer (bypasses leader stickiness). */
  transfer: boolean;
}

export type Role = "follower" | "candidate" | "preCandidate" | "leader";

/** Volatile state worth telling the application about when it changes. */
export interface SoftState {
  leader: NodeId | null;
  role: Role;
}

/** A linearizable read point: once appliedIndex >= index, local state may be read (Raft §6.4). */
export interface ReadState {
  index: number;
  context: string;
}

/**
 * A batch of work the core hands to its driver. The driver must, in order:
 * 1. persist `snapshot` (if any), then `entries` and `hardState` (one durable transaction),
 * 2. send `messages`,
 * 3. apply `committedEntries` to the FSM (and install `snapshot` into the FSM first if present),
 * 4. call core.advance(ready).
 */
export interface Ready {
  softState: SoftState | null;
  hardState: HardState | null;
  /** Entries to append to stable storage. entries[0].index may be <= the stored last index:
   * the store must then drop its suffix from that index before appending (conflict truncation). */
  entries: Entry[];
  /** A snapshot received from the leader, to install before applying anything else. */
  snapshot: SnapshotMeta | null;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before campaigning; randomised in [electionTick, 2*electionTick). */
  electionTick: number;
  /** Ticks between leader heartbeats. Must be < electionTick. */
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Upper bound on the encoded entry bytes in one AppendEntries message. */
  maxSizePerMsg: number;
  /** Max in-flight AppendEntries messages per follower in replicate state (pipelining depth). */
  maxInflightMsgs: number;
  /** Seeded random source in [0, 1). The core never calls Math.random. */
  random: () => number;
}

/** What the core restarts from: whatever the LogStore/StableStore/SnapshotStore hold. */
export interface RestoreState {
  hardState: HardState;
  /** Latest snapshot; entries start right after snapshot.index. Index 0 with empty conf = fresh node. */
  snapshot: SnapshotMeta;
  /** Persisted entries after snapshot.index, contiguous. */
  entries: Entry[];
}

export interface PeerProgress {
  id: NodeId;
  address: string;
  voter: boolean;
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  /** Ticks since the leader last heard from this peer (leader only). */
  ticksSinceContact: number;
}

export interface Status {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId | null;
  leader: NodeId | null;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  confState: ConfState;
  /** Populated on the leader only. */
  progress: PeerProgress[];
  leadTransferee: NodeId | null;
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | {
      ok: false;
      reason: "not-leader" | "transfer-in-progress" | "conf-change-pending" | "invalid";
      leader: NodeId | null;
    };

export function emptyConfState(): ConfState {
  return { voters: [], learners: [], addresses: {} };
}

export function emptyMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: "",
    transfer: false,
  };
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return textEncoder.encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(textDecoder.decode(data)) as ConfChange;
}
