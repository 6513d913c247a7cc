// What a reconcile walk hands the scanner. The walk lstats every path of the folder anyway; a path the
// index shows unchanged since this node last saw it agree (agreesWithIndex) would cost a scan — a path
// walk and index reads — only to propose nothing, for every file of the folder at every reconcile.
import { agreesWithIndex, type LiveLocalState } from "../store/file-index.ts";
import type { WalkEntry } from "../watcher/walk.ts";

/**
 * Every path on disk that the index does not show unchanged (new, edited, chmod'ed, replaced by another
 * kind), then every live index path the walk did not find (deleted while nobody watched).
 */
export function reconcileCandidates(
  index: { liveLocalStates(): Map<string, LiveLocalState> },
  onDisk: WalkEntry[],
): string[] {
  const known = index.liveLocalStates();
  const out: string[] = [];
  for (const d of onDisk) {
    const k = known.get(d.path);
    known.delete(d.path);
    if (k && agreesWithIndex(k, d)) continue;
    out.push(d.path);
  }
  for (const p of known.keys()) out.push(p); // gone from disk
  return out;
}
