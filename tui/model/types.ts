// The TUI's data, independent of Ink and of where it came from (in-process node or admin protocol).
import type { TransferEvent } from "../../src/node/node-events.ts";
import type { ClusterMemberStatus, NodeStatus } from "../../src/node/pickbox-node.ts";

export type { ClusterMemberStatus, NodeStatus };

/** One file as a member's index lists it. `hash` may be the full SHA-256 or FILES' 12-char prefix. */
export interface FileEntry {
  path: string;
  size: number;
  hash: string;
}

/** A member's file list as last fetched; `entries` is null while it cannot be fetched (member down). */
export interface MemberFiles {
  entries: Map<string, FileEntry> | null;
  at: number;
  error: string | null;
}

/** An event of the node event stream (admin SUBSCRIBE or NodeEvents): FSM or raft events. */
export type NodeEventLike = Record<string, unknown> & { type: string };

/** One committed log entry's effect as seen on every member: the same (index, type, path) merges. */
export interface FeedItem {
  key: string;
  /** When the first member reported it. */
  at: number;
  type: string;
  op: string;
  path: string;
  origin: string;
  size: number | null;
  index: number;
  /** Per member that reported it: end-to-end latency estimate in ms (null when unknown). */
  appliedOn: Record<string, number | null>;
  detail: string | null;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogLine {
  at: number;
  level: LogLevel;
  node: string | null;
  msg: string;
}

/** A member that fell behind: where it stood when it did, so its catch-up shows as a progress bar. */
export interface CatchUp {
  from: number;
  target: number;
}

/** One chunk transfer between members as its progress events (type "transfer") last described it. */
export type TransferItem = Omit<TransferEvent, "type" | "error"> & {
  /** `<node>|<id>`: ids are unique per node. */
  key: string;
  /** The member that reported it: the pusher, or the fetcher. */
  node: string;
  error: string | null;
  /** Clock times (the TUI's) of its first and latest event; endedAt once done or failed. */
  firstSeen: number;
  lastSeen: number;
  endedAt: number | null;
};

export interface TuiState {
  mode: "attach" | "in-process";
  /** The node the view goes through (the attached node, or the node running the TUI). */
  self: string | null;
  /** How the data is reached, e.g. "admin 127.0.0.1:9001" or "in-process". */
  via: string;
  members: ClusterMemberStatus[];
  /** Clock time of the last cluster status; 0 = never. */
  membersAt: number;
  clusterError: string | null;
  files: Record<string, MemberFiles>;
  feed: FeedItem[];
  logs: LogLine[];
  catchUp: Record<string, CatchUp>;
  /** Large chunk transfers in progress or just ended, by TransferItem.key. */
  transfers: Record<string, TransferItem>;
}
