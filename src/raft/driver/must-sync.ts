import type { HardState, Ready } from "../types.ts";

/**
 * etcd's MustSync: entries, a new term or a vote must be on disk before any message that depends on
 * them goes out; a commit index alone need not (it is volatile state in Raft, relearnt from the leader
 * after a restart), so a Ready that only moves it is written without an fsync: one fsync less per
 * write on every node. `persisted`: the hard state written last.
 */
export function mustSync(rd: Pick<Ready, "entries" | "hardState">, persisted: HardState | null): boolean {
  if (rd.entries.length > 0) return true;
  const hs = rd.hardState;
  if (hs === null) return false;
  return persisted === null || hs.term !== persisted.term || hs.vote !== persisted.vote;
}
