// The original's FORWARD payload: `FORWARD {"op":"write","path":"a.txt","data":"<base64>","hash":"<hex>",
// "node_id":"node2","sequence":3}` (Go's encoding/json of its Command struct; []byte as padded standard
// base64, nil as null). The original committed these bytes unvalidated; here every field is checked before
// anything reaches the handler, so a malformed or hostile request is an ERROR line, never a log entry.
import { createHash } from "node:crypto";

export interface LegacyForwardCommand {
  op: "write" | "delete";
  path: string;
  /** File content for write (empty file when the JSON had null/no data); null for delete. */
  data: Uint8Array | null;
  /** Lowercase hex SHA-256 of data, when the sender gave one (already checked to match). */
  hash?: string;
  nodeId?: string;
  sequence?: number;
}

/** A FORWARD body that is not a valid command; the message is the reply text after `ERROR: `. */
export class ForwardFormatError extends Error {
  override name = "ForwardFormatError";
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** Parses and validates the JSON text of a FORWARD (everything from the first `{`). */
export function parseForwardJson(json: string): LegacyForwardCommand {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new ForwardFormatError(`invalid FORWARD JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ForwardFormatError("invalid FORWARD JSON: expected an object");
  }
  const o = raw as Record<string, unknown>;
  if (o.op !== "write" && o.op !== "delete") {
    throw new ForwardFormatError(`invalid FORWARD command: op must be "write" or "delete"`);
  }
  if (typeof o.path !== "string" || o.path.length === 0) {
    throw new ForwardFormatError("invalid FORWARD command: path must be a non-empty string");
  }
  let data: Uint8Array | null = null;
  if (o.data !== undefined && o.data !== null) {
    if (typeof o.data !== "string")
      throw new ForwardFormatError("invalid FORWARD command: data must be base64");
    data = decodeStrictBase64(o.data);
  }
  if (o.op === "write" && data === null) data = new Uint8Array(0); // Go sends a nil []byte as null
  if (o.op === "delete") data = null;

  const cmd: LegacyForwardCommand = { op: o.op, path: o.path, data };
  if (o.hash !== undefined && o.hash !== null && o.hash !== "") {
    if (typeof o.hash !== "string" || !HEX64.test(o.hash)) {
      throw new ForwardFormatError("invalid FORWARD command: hash must be 64 hex digits (SHA-256)");
    }
    const hash = o.hash.toLowerCase();
    if (cmd.op === "write" && sha256Hex(cmd.data!) !== hash) {
      throw new ForwardFormatError("invalid FORWARD command: hash does not match data");
    }
    cmd.hash = hash;
  }
  if (o.node_id !== undefined && o.node_id !== null) {
    if (typeof o.node_id !== "string")
      throw new ForwardFormatError("invalid FORWARD command: node_id must be a string");
    cmd.nodeId = o.node_id;
  }
  if (o.sequence !== undefined && o.sequence !== null) {
    if (typeof o.sequence !== "number" || !Number.isSafeInteger(o.sequence) || o.sequence < 0) {
      throw new ForwardFormatError("invalid FORWARD command: sequence must be a non-negative integer");
    }
    cmd.sequence = o.sequence;
  }
  // "chunk" (and any other key) is accepted and ignored, as the original's FSM did.
  return cmd;
}

/** Standard alphabet, padded, canonical: exactly what Go's base64.StdEncoding produces. */
export function decodeStrictBase64(s: string): Uint8Array {
  const buf = Buffer.from(s, "base64");
  // Buffer.from is lenient (skips junk, accepts url-safe, missing padding); a round trip is the strict check.
  if (buf.toString("base64") !== s)
    throw new ForwardFormatError("invalid FORWARD command: data is not valid base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The line the original's forwarder sent (no newline): for clients of an original or a new leader. */
export function encodeForwardLine(cmd: LegacyForwardCommand): string {
  const data = cmd.data === null ? null : Buffer.from(cmd.data).toString("base64");
  const body: Record<string, unknown> = { op: cmd.op, path: cmd.path, data };
  body.hash = cmd.hash ?? (cmd.data ? sha256Hex(cmd.data) : "");
  body.node_id = cmd.nodeId ?? "";
  body.sequence = cmd.sequence ?? 0;
  return `FORWARD ${JSON.stringify(body)}`;
}
