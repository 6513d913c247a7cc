import { RaftCore } from "../../src/raft/core/raft-core.ts";
import type { RaftConfig, RestoreState } from "../../src/raft/types.ts";

/**
 * Deliberately broken cores, to prove the simulator catches real Raft bugs. Each overrides one of the
 * two rules the core exposes for this purpose; everything else is the production core.
 */

/** Figure 8 bug: a leader commits an entry of an earlier term just by counting replicas. */
export class CommitAnyTermCore extends RaftCore {
  protected override canCommit(_index: number, _term: number): boolean {
    return true;
  }
}

/** Votes without the log restriction: a candidate missing committed entries can win. */
export class VoteAnyLogCore extends RaftCore {
  protected override logIsUpToDate(_lastIndex: number, _lastTerm: number): boolean {
    return true;
  }
}

export type CoreFactory = (config: RaftConfig, restore: RestoreState) => RaftCore;

export const coreVariants: Record<string, CoreFactory> = {
  correct: (c, r) => new RaftCore(c, r),
  "commit-any-term": (c, r) => new CommitAnyTermCore(c, r),
  "vote-any-log": (c, r) => new VoteAnyLogCore(c, r),
};

export function coreVariant(name: string): CoreFactory {
  const f = coreVariants[name];
  if (!f) throw new Error(`unknown core variant "${name}" (known: ${Object.keys(coreVariants).join(", ")})`);
  return f;
}
