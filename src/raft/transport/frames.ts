import type { Entry, Message, MessageType, SnapshotMeta } from "../types.ts";

/** Wire protocol version carried in `hello`; a mismatch is refused rather than misread. 2: bulk values
 * travel attached after a frame's msgpack (frame-codec.ts, ATTACHED). */
export const PROTOCOL_VERSION = 2;

/**
 * Everything that travels on a transport connection. Each frame is one msgpack map with a kind `k`.
 *
 * Connection life: the acceptor sends `challenge`; the dialer answers `hello` (its advertised address and,
 * with a cluster secret, an HMAC of the nonce); the acceptor answers `welcome` or `reject` and closes.
 * After that the dialer sends `msg` / `req` (the acceptor answers `res` on the same connection), or, on a
 * dedicated connection, one snapshot: `snapBegin`, `snapChunk`*, `snapEnd`, answered by `snapAck`.
 */
export type Frame =
  | { k: "challenge"; nonce: Uint8Array }
  | { k: "hello"; v: number; addr: string; mac?: Uint8Array }
  | { k: "welcome" }
  | { k: "reject"; reason: string }
  | { k: "msg"; m: Message }
  | { k: "snapBegin"; m: Message }
  | { k: "snapChunk"; d: Uint8Array }
  | { k: "snapEnd" }
  | { k: "snapAck"; ok: boolean; e?: string }
  | { k: "req"; id: number; p: unknown }
  | { k: "res"; id: number; ok: boolean; v?: unknown; e?: string };

export type FrameKind = Frame["k"];

const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  "app",
  "appResp",
  "vote",
  "voteResp",
  "preVote",
  "preVoteResp",
  "heartbeat",
  "heartbeatResp",
  "snap",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
]);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function isEntry(v: unknown): v is Entry {
  return (
    isObj(v) &&
    isCount(v.term) &&
    isCount(v.index) &&
    (v.type === 0 || v.type === 1) &&
    v.data instanceof Uint8Array
  );
}

function isSnapshotMeta(v: unknown): v is SnapshotMeta {
  if (!isObj(v) || !isCount(v.index) || !isCount(v.term) || !isObj(v.confState)) return false;
  const cs = v.confState;
  return (
    isStringArray(cs.voters) &&
    isStringArray(cs.learners) &&
    isObj(cs.addresses) &&
    Object.values(cs.addresses).every((a) => typeof a === "string")
  );
}

/** A peer's bytes reach the Raft core only in the exact shape the core expects. */
export function isMessage(v: unknown): v is Message {
  return (
    isObj(v) &&
    typeof v.type === "string" &&
    MESSAGE_TYPES.has(v.type) &&
    typeof v.from === "string" &&
    typeof v.to === "string" &&
    isCount(v.term) &&
    isCount(v.logTerm) &&
    isCount(v.index) &&
    Array.isArray(v.entries) &&
    v.entries.every(isEntry) &&
    isCount(v.commit) &&
    typeof v.reject === "boolean" &&
    isCount(v.rejectHint) &&
    (v.snapshot === null || isSnapshotMeta(v.snapshot)) &&
    typeof v.context === "string" &&
    typeof v.transfer === "boolean"
  );
}

/** Checks a decoded value is a well-formed frame; anything else is a protocol violation. */
export function isFrame(v: unknown): v is Frame {
  if (!isObj(v)) return false;
  switch (v.k) {
    case "challenge":
      return v.nonce instanceof Uint8Array;
    case "hello":
      return (
        isCount(v.v) &&
        typeof v.addr === "string" &&
        (v.mac === undefined || v.mac === null || v.mac instanceof Uint8Array)
      );
    case "welcome":
    case "snapEnd":
      return true;
    case "reject":
      return typeof v.reason === "string";
    case "msg":
    case "snapBegin":
      return isMessage(v.m);
    case "snapChunk":
      return v.d instanceof Uint8Array;
    case "snapAck":
      return typeof v.ok === "boolean" && (v.e === undefined || typeof v.e === "string");
    case "req":
      return isCount(v.id);
    case "res":
      return isCount(v.id) && typeof v.ok === "boolean" && (v.ok || typeof v.e === "string");
    default:
      return false;
  }
}
