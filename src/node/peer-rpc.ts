import type { Chunk } from "../store/chunker.ts";
import type { StageTarget } from "../store/push-staging.ts";

/**
 * Application requests between nodes, carried by the Raft transport's request/response frames.
 * The follower → leader proposal path lives here (not in the admin port, as in the original),
 * and it is acknowledged only after the entry is applied on the leader.
 */
export type PeerRequest =
  | { t: "propose"; data: Uint8Array }
  /** durable (the default): on reply, these chunks and every one stored before are on disk. False: stored
   * without fsync; a push sends its batches so and ends with an empty durable request (one fsync).
   * `expect` (durable only): chunks the sender believes this node holds; the reply is `{ missing }`,
   * those of them it does not hold (after the fsync), or `true` when it holds them all. `stage` and `at`
   * (at[i]: offset of chunks[i] in that file, or null): the receiver may also write the chunks into the
   * file being assembled for the entry to come (PushStaging). */
  | {
      t: "putChunks";
      chunks: Chunk[];
      durable?: boolean;
      expect?: string[];
      stage?: StageTarget;
      at?: (number | null)[];
    }
  | { t: "getChunks"; hashes: string[] }
  | { t: "addMember"; id: string; address: string; learner: boolean }
  | { t: "removeMember"; id: string }
  | { t: "status" };

export interface ProposeReply {
  index: number;
  result: unknown;
}

export class PeerRequestError extends Error {}

export function isPeerRequest(v: unknown): v is PeerRequest {
  if (typeof v !== "object" || v === null) return false;
  const t = (v as { t?: unknown }).t;
  return (
    t === "propose" ||
    t === "putChunks" ||
    t === "getChunks" ||
    t === "addMember" ||
    t === "removeMember" ||
    t === "status"
  );
}

/** Errors crossing the wire lose their class; a prefix keeps "not leader" recognisable for retries. */
export const NOT_LEADER_PREFIX = "NOT_LEADER:";

export function notLeaderMessage(leader: string | null): string {
  return `${NOT_LEADER_PREFIX}${leader ?? ""}`;
}

export function parseNotLeader(message: string): { leader: string | null } | null {
  const at = message.indexOf(NOT_LEADER_PREFIX);
  if (at < 0) return null;
  const leader = message.slice(at + NOT_LEADER_PREFIX.length).trim();
  return { leader: leader.length > 0 ? leader : null };
}
