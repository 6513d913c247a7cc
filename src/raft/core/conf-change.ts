import type { ConfChange, ConfState } from "../types.ts";

export function cloneConfState(cs: ConfState): ConfState {
  return { voters: cs.voters.slice(), learners: cs.learners.slice(), addresses: { ...cs.addresses } };
}

/** Why a conf change cannot be proposed against the current configuration, or null when it can. */
export function confChangeError(cs: ConfState, cc: ConfChange): string | null {
  if (typeof cc.nodeId !== "string" || cc.nodeId === "") return "nodeId required";
  const isVoter = cs.voters.includes(cc.nodeId);
  const isLearner = cs.learners.includes(cc.nodeId);
  switch (cc.type) {
    case "addVoter":
      if (isVoter) return "already a voter";
      if (!isLearner && !cc.address) return "address required";
      return null;
    case "addLearner":
      if (isVoter || isLearner) return "already a member";
      if (!cc.address) return "address required";
      return null;
    case "promote":
      return isLearner ? null : "not a learner";
    case "remove":
      if (!isVoter && !isLearner) return "not a member";
      if (isVoter && cs.voters.length === 1) return "cannot remove the last voter";
      return null;
    default:
      return "unknown conf change type";
  }
}

/** The configuration after cc. Lenient (never throws): committed entries must always apply. */
export function applyConfChangeTo(cs: ConfState, cc: ConfChange): ConfState {
  const next = cloneConfState(cs);
  const id = cc.nodeId;
  const without = (xs: string[]) => xs.filter((x) => x !== id);
  switch (cc.type) {
    case "addVoter":
      next.learners = without(next.learners);
      if (!next.voters.includes(id)) next.voters.push(id);
      if (cc.address) next.addresses[id] = cc.address;
      break;
    case "addLearner":
      if (next.voters.includes(id)) break; // no demotion
      if (!next.learners.includes(id)) next.learners.push(id);
      if (cc.address) next.addresses[id] = cc.address;
      break;
    case "promote":
      if (!next.learners.includes(id)) break;
      next.learners = without(next.learners);
      next.voters.push(id);
      break;
    case "remove":
      next.voters = without(next.voters);
      next.learners = without(next.learners);
      delete next.addresses[id];
      break;
  }
  return next;
}
