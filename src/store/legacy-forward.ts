// The original Go Pickbox's FORWARD payload, {op: "write"|"delete", path, data (base64), hash, node_id,
// sequence}, turned into our commands. Legacy clients expect "last writer wins": the base clock is the
// current index entry's, so the change fast-forwards whatever is there when it is converted.

import type { ChunkStore } from "./chunk-store.ts";
import { StreamingChunker, sha256Hex } from "./chunker.ts";
import { DEFAULT_INLINE_LIMIT, type InlineChunk, type LeafCommand } from "./commands.ts";
import type { FileIndex } from "./file-index.ts";
import { normalizeRelPath, PathError } from "./paths.ts";

/** A FORWARD payload we cannot accept; the message is meant for an `ERROR: ...` reply. */
export class LegacyForwardError extends Error {
  override name = "LegacyForwardError";
}

export interface LegacyForwardDeps {
  index: FileIndex;
  chunks: ChunkStore;
  /** Origin used when the payload has no node_id. */
  nodeId: string;
  /** Wall clock for the new file's mtime (the legacy format carries none). */
  now: () => number;
  inlineLimit?: number;
  /** Mode of a file the legacy client creates (an existing file keeps its mode). */
  defaultMode?: number;
}

export interface LegacyConversion {
  command: LeafCommand;
  /** Chunks stored locally that peers need before the command commits (large writes only). */
  missingChunks: string[];
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Accepts the JSON text (or the parsed object) of a FORWARD command. */
export async function legacyForwardToCommand(
  json: string | unknown,
  d: LegacyForwardDeps,
): Promise<LegacyConversion> {
  let v: unknown = json;
  if (typeof json === "string") {
    try {
      v = JSON.parse(json);
    } catch (e) {
      throw new LegacyForwardError(`invalid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new LegacyForwardError("payload is not an object");
  // Go's decoder matches keys case-insensitively and takes the last duplicate; JSON.parse keeps the last too.
  const o: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) o[k.toLowerCase()] = val;
  const op = o.op;
  if (op !== "write" && op !== "delete")
    throw new LegacyForwardError(`unknown operation: ${JSON.stringify(op)}`);
  if (typeof o.path !== "string") throw new LegacyForwardError("path is missing");
  let rel: string;
  try {
    rel = normalizeRelPath(o.path);
  } catch (e) {
    if (e instanceof PathError) throw new LegacyForwardError(e.message);
    throw e;
  }
  const origin =
    typeof o.node_id === "string" && o.node_id.length > 0 && o.node_id.length <= 255 ? o.node_id : d.nodeId;
  const seq =
    typeof o.sequence === "number" && Number.isSafeInteger(o.sequence) && o.sequence >= 0 ? o.sequence : 0;
  const cur = d.index.get(rel);
  const live = cur && !cur.deleted ? cur : undefined;
  if (live?.kind === "dir") throw new LegacyForwardError(`${rel} is a directory`);
  const base = cur?.clock ?? {};

  if (op === "delete") {
    return { command: { op: "delete", path: rel, base, origin, seq }, missingChunks: [] };
  }
  if (o.data !== null && o.data !== undefined && typeof o.data !== "string") {
    throw new LegacyForwardError("data must be base64 text");
  }
  const b64 = typeof o.data === "string" ? o.data : "";
  if (!BASE64_RE.test(b64)) throw new LegacyForwardError("data is not valid padded base64");
  const bytes = new Uint8Array(Buffer.from(b64, "base64"));
  const hash = sha256Hex(bytes);
  // The legacy "hash" field was never checked by the original; we compute our own.

  const chunker = new StreamingChunker();
  const all = [...chunker.push(bytes), ...chunker.finish()];
  // A chunk is known cluster-wide only when a committed file refers to it (not merely stored here).
  const fresh = dedupe(all.filter((c) => !d.index.isChunkReferenced(c.hash)));
  const freshBytes = fresh.reduce((n, c) => n + c.data.length, 0);
  let inline: InlineChunk[] = [];
  let missingChunks: string[] = [];
  if (freshBytes <= (d.inlineLimit ?? DEFAULT_INLINE_LIMIT)) {
    inline = fresh;
  } else {
    await d.chunks.putMany(fresh);
    missingChunks = fresh.map((c) => c.hash);
  }
  return {
    command: {
      op: "put",
      path: rel,
      kind: "file",
      mode: live?.mode ?? d.defaultMode ?? 0o644,
      mtimeMs: d.now(),
      size: bytes.length,
      hash,
      chunks: all.map((c) => c.hash),
      inline,
      base,
      origin,
      seq,
    },
    missingChunks,
  };
}

function dedupe(chunks: InlineChunk[]): InlineChunk[] {
  const seen = new Set<string>();
  return chunks.filter((c) => {
    if (seen.has(c.hash)) return false;
    seen.add(c.hash);
    return true;
  });
}
