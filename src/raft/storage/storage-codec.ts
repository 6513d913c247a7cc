import type { Entry, HardState } from "../types.ts";

// Helpers shared by the sqlite and in-memory Raft storages, so both enforce the same rules.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeHardState(hs: HardState): Uint8Array {
  return encoder.encode(JSON.stringify({ term: hs.term, vote: hs.vote, commit: hs.commit }));
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const v = JSON.parse(decoder.decode(bytes)) as Partial<HardState>;
  if (
    typeof v.term !== "number" ||
    typeof v.commit !== "number" ||
    !(v.vote === null || typeof v.vote === "string")
  ) {
    throw new Error(`corrupt raft hard state: ${decoder.decode(bytes)}`);
  }
  return { term: v.term, vote: v.vote, commit: v.commit };
}

/**
 * Throws unless `entries` can be appended to a log whose last index is `lastIndex`: indices must be
 * positive and consecutive, and must not leave a gap after a non-empty log. (An empty log accepts any
 * start: after a snapshot the log resumes at snapshot.index + 1.)
 */
export function checkAppendable(entries: Entry[], lastIndex: number): void {
  if (entries.length === 0) return;
  const start = entries[0]!.index;
  if (!Number.isSafeInteger(start) || start < 1) throw new Error(`raft storage: bad entry index ${start}`);
  if (lastIndex !== 0 && start > lastIndex + 1) {
    throw new Error(`raft storage: gap in log: last index ${lastIndex}, next entry ${start}`);
  }
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== start + i) {
      throw new Error(
        `raft storage: entries not consecutive at ${entries[i]!.index} (expected ${start + i})`,
      );
    }
  }
}
