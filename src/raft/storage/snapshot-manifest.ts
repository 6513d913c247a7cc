import type { ConfState, SnapshotMeta } from "../types.ts";

/** Contents of a snapshot directory's meta.json. */
export interface SnapshotManifest {
  version: 1;
  meta: SnapshotMeta;
  /** Byte length of the data file. */
  size: number;
  /** Hex SHA-256 of the data file. */
  sha256: string;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function isConfState(v: unknown): v is ConfState {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  const addresses = c.addresses;
  return (
    isStringArray(c.voters) &&
    isStringArray(c.learners) &&
    typeof addresses === "object" &&
    addresses !== null &&
    !Array.isArray(addresses) &&
    Object.values(addresses).every((a) => typeof a === "string")
  );
}

/** Parses and validates meta.json; throws an Error naming the snapshot and the first problem found. */
export function parseSnapshotManifest(text: string, name: string): SnapshotManifest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`snapshot ${name}: meta.json is not JSON: ${(err as Error).message}`);
  }
  const fail = (what: string): never => {
    throw new Error(`snapshot ${name}: meta.json ${what}`);
  };
  if (typeof v !== "object" || v === null) return fail("is not an object");
  const m = v as Record<string, unknown>;
  if (m.version !== 1) fail(`has unsupported version ${JSON.stringify(m.version)}`);
  if (!isCount(m.size)) fail("has no valid size");
  if (typeof m.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(m.sha256)) fail("has no valid sha256");
  const meta = m.meta as Record<string, unknown> | null;
  if (typeof meta !== "object" || meta === null) return fail("has no meta");
  if (!isCount(meta.index) || !isCount(meta.term)) fail("has no valid index/term");
  if (!isConfState(meta.confState)) fail("has no valid confState");
  return m as unknown as SnapshotManifest;
}
