// Conflict rule: a pure, deterministic function of the log entry and the current index entry, so every
// node resolves a concurrent edit the same way. Names follow Syncthing's convention, which users know.
import { MAX_SEGMENT_BYTES } from "./paths.ts";
import { compareClocks, type VectorClock } from "./vector-clock.ts";

export interface Version {
  hash: string;
  clock: VectorClock;
  deleted: boolean;
  origin: string;
}

export type Resolution =
  | { action: "apply" } // incoming is based on current (or no current): it takes the name
  | { action: "noop" } // identical content already there (or delete of missing/deleted)
  | { action: "conflict" } // concurrent edit: current keeps the name, incoming goes to a conflict copy
  | { action: "drop-delete" }; // a delete concurrent with an edit: the edit wins, delete is dropped

const encoder = new TextEncoder();

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** YYYYMMDD-HHMMSS in UTC. */
export function conflictStamp(timestampMs: number): string {
  const d = new Date(timestampMs);
  if (Number.isNaN(d.getTime())) throw new RangeError(`invalid conflict timestamp ${timestampMs}`);
  return (
    `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`
  );
}

/**
 * "dir/name.sync-conflict-YYYYMMDD-HHMMSS-<node>.ext". The extension is the last one of the base name
 * ("a.tar.gz" -> ".gz"); a name without one, or a dotfile such as ".bashrc", gets the suffix at the end.
 * Characters in the node id that cannot be in a file name become "_"; an over-long stem is shortened so
 * the name stays within the file-name limit.
 */
export function conflictName(path: string, timestampMs: number, nodeId: string, n = 1): string {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  const hasExt = dot > 0; // dot at 0 is a dotfile, not an extension
  let stem = hasExt ? base.slice(0, dot) : base;
  const ext = hasExt ? base.slice(dot) : "";
  const node = nodeId.replace(/[^A-Za-z0-9._-]/g, "_") || "_";
  // The n-th copy from one node within one second gets "-n": copies never overwrite each other.
  const seq = n > 1 ? `-${n}` : "";
  const suffix = `.sync-conflict-${conflictStamp(timestampMs)}-${node}${seq}${ext}`;
  const budget = MAX_SEGMENT_BYTES - encoder.encode(suffix).length;
  while (stem.length > 0 && encoder.encode(stem).length > budget) {
    stem = Array.from(stem).slice(0, -1).join(""); // drop whole code points, never half a character
  }
  return `${dir}${stem}${suffix}`;
}

/**
 * What the FSM does with an incoming change, given the current index entry for its path.
 * `incoming.base` is the clock of the version the proposer saw when it made the change.
 */
export function resolveChange(
  current: Version | undefined,
  incoming: { base: VectorClock; hash: string; deleted: boolean },
): Resolution {
  if (current === undefined) return incoming.deleted ? { action: "noop" } : { action: "apply" };
  if (incoming.deleted && current.deleted) return { action: "noop" };
  if (!incoming.deleted && !current.deleted && incoming.hash === current.hash) return { action: "noop" };
  const order = compareClocks(incoming.base, current.clock);
  if (order === "equal" || order === "after") return { action: "apply" };
  // The proposer did not see the current version: a concurrent change committed first.
  if (current.deleted && !incoming.deleted) return { action: "apply" }; // edit beats delete
  if (incoming.deleted) return { action: "drop-delete" };
  return { action: "conflict" };
}
