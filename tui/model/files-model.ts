import { compareIds } from "./peers-model.ts";
import type { TuiState } from "./types.ts";

/** FILES prints 12 hex characters; comparing on that prefix lets full and short hashes agree. */
export const SHORT_HASH = 12;

export type CellState = "same" | "differs" | "missing" | "unknown";
export type RowState = "agreed" | "differs" | "partial" | "unknown";

export interface FileCell {
  node: string;
  /** Short hash on that node, or null (missing, or node's list unknown). */
  hash: string | null;
  state: CellState;
}

export interface FileRow {
  path: string;
  size: number;
  cells: FileCell[];
  state: RowState;
  /** How many reachable nodes hold the majority hash, out of how many reachable nodes. */
  agree: number;
  known: number;
}

export interface FilesModel {
  nodes: string[];
  rows: FileRow[];
  total: number;
  agreed: number;
  differing: number;
}

/**
 * Every file known to any member, with its hash on each member. A row is "agreed" when every member
 * whose list is known has the file with one hash; "differs" while hashes disagree (convergence in
 * progress, or a problem); "partial" while some members do not have it yet.
 */
export function filesModel(s: TuiState, filter = ""): FilesModel {
  const nodes = s.members.map((m) => m.id).sort(compareIds);
  const paths = new Map<string, number>();
  for (const id of nodes) {
    const entries = s.files[id]?.entries;
    if (!entries) continue;
    for (const e of entries.values()) if (!paths.has(e.path)) paths.set(e.path, e.size);
  }
  const needle = filter.toLowerCase();
  const rows: FileRow[] = [];
  let agreed = 0;
  let differing = 0;
  for (const [path, anySize] of paths) {
    const hashes = nodes.map((id) => {
      const entries = s.files[id]?.entries;
      if (!entries) return { id, hash: null as string | null, known: false };
      const e = entries.get(path);
      return { id, hash: e ? e.hash.slice(0, SHORT_HASH) : null, known: true };
    });
    const counts = new Map<string, number>();
    for (const h of hashes) if (h.hash) counts.set(h.hash, (counts.get(h.hash) ?? 0) + 1);
    const majority = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
    const known = hashes.filter((h) => h.known).length;
    const present = hashes.filter((h) => h.hash).length;
    const cells: FileCell[] = hashes.map((h) => ({
      node: h.id,
      hash: h.hash,
      state: !h.known ? "unknown" : !h.hash ? "missing" : h.hash === majority?.[0] ? "same" : "differs",
    }));
    let state: RowState;
    if (known === 0) state = "unknown";
    else if (counts.size > 1) state = "differs";
    else if (present < known) state = "partial";
    else state = "agreed";
    if (state === "agreed") agreed++;
    if (state === "differs" || state === "partial") differing++;
    // Size: the majority version's size on a node that has it.
    let size = anySize;
    for (const id of nodes) {
      const e = s.files[id]?.entries?.get(path);
      if (e && e.hash.slice(0, SHORT_HASH) === majority?.[0]) {
        size = e.size;
        break;
      }
    }
    if (needle && !path.toLowerCase().includes(needle)) continue;
    rows.push({ path, size, cells, state, agree: majority?.[1] ?? 0, known });
  }
  // Files still converging first (that is what a person watches), then by path.
  const rank = (r: FileRow) => (r.state === "differs" ? 0 : r.state === "partial" ? 1 : 2);
  rows.sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
  return { nodes, rows, total: paths.size, agreed, differing };
}

/** How wide each hash cell can be for `nodes` columns in `width` columns; 0 = too narrow, show a summary. */
export function hashColumnWidth(width: number, nodes: number, fixed: number): number {
  if (nodes === 0) return 0;
  const per = Math.floor((width - fixed) / nodes) - 1;
  if (per < 6) return 0;
  return Math.min(SHORT_HASH, per);
}
