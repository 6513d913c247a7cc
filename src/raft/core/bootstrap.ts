import {
  type ConfChange,
  EntryType,
  emptyConfState,
  encodeConfChange,
  type NodeId,
  type RestoreState,
} from "../types.ts";

/** Initial state of a cluster's first node: entry 1 (term 1) adds it as the only voter, committed. */
export function bootstrapState(id: NodeId, address: string): RestoreState {
  return bootstrapClusterState([{ id, address }]);
}

/**
 * Identical initial state for every member of a cluster started with a fixed membership: entry i (term 1)
 * adds member i as a voter, all committed. Each node restores its confState from these entries.
 */
export function bootstrapClusterState(members: { id: NodeId; address: string }[]): RestoreState {
  const entries = members.map((m, i) => {
    const cc: ConfChange = { type: "addVoter", nodeId: m.id, address: m.address };
    return { term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange(cc) };
  });
  return {
    hardState: { term: 1, vote: null, commit: entries.length },
    snapshot: { index: 0, term: 0, confState: emptyConfState() },
    entries,
  };
}
