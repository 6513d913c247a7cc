/**
 * How hard a run shakes the cluster. Probabilities are per tick; each seed also draws its own network
 * quality (loss, duplication, delay) within the profile's bounds, so seeds differ in character too.
 */
export interface ScenarioProfile {
  name: string;
  /** Ticks of chaos before the network heals and faults stop. */
  chaosTicks: number;
  /** Ticks allowed after healing for a leader to appear and a new proposal to apply everywhere. */
  livenessTicks: number;
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  lossMax: number;
  dupMax: number;
  /** Message delay in time units (a tick is 10 units): uniform in [1, delayMax]... */
  delayMax: number;
  /** ...except this fraction, delayed up to 6 * delayMax (reordering). */
  longDelayChance: number;
  partitionChance: number;
  healChance: number;
  crashChance: number;
  restartChance: number;
  proposeChance: number;
  proposeBurst: number;
  confChangeChance: number;
  transferChance: number;
  campaignChance: number;
  readChance: number;
  /** Chance that a newly elected leader is crashed or cut off after a short reign (partial replication). */
  shortReignChance: number;
  /** That reign's length in ticks, drawn in [0, shortReignMax]. */
  shortReignMax: number;
  /** Chance to lose an AppendEntries that carries entries of the sender's own term (Figure-8 bias). */
  dropNewTermAppendChance: number;
  /** A node snapshots and compacts after this many applied entries, drawn per node in [min, max]. */
  compactMin: number;
  compactMax: number;
}

export const chaosProfile: ScenarioProfile = {
  name: "chaos",
  chaosTicks: 500,
  livenessTicks: 300,
  electionTick: 10,
  heartbeatTick: 2,
  maxSizePerMsg: 256,
  maxInflightMsgs: 4,
  lossMax: 0.15,
  dupMax: 0.05,
  delayMax: 12,
  longDelayChance: 0.05,
  partitionChance: 0.02,
  healChance: 0.05,
  crashChance: 0.01,
  restartChance: 0.08,
  proposeChance: 0.35,
  proposeBurst: 3,
  confChangeChance: 0.02,
  transferChance: 0.01,
  campaignChance: 0.005,
  readChance: 0.1,
  shortReignChance: 0.05,
  shortReignMax: 20,
  dropNewTermAppendChance: 0,
  compactMin: 4,
  compactMax: 24,
};

/**
 * Bias towards Figure 8: frequent elections and leader crashes while entries are only partly replicated
 * (one entry per message, one message in flight), so older-term entries sit on some but not all nodes.
 */
export const figure8Profile: ScenarioProfile = {
  ...chaosProfile,
  name: "figure8",
  chaosTicks: 300,
  maxSizePerMsg: 1,
  maxInflightMsgs: 1,
  lossMax: 0.3,
  partitionChance: 0.06,
  healChance: 0.08,
  crashChance: 0.04,
  restartChance: 0.2,
  proposeChance: 0.5,
  proposeBurst: 4,
  confChangeChance: 0,
  campaignChance: 0.05,
  transferChance: 0.02,
  shortReignChance: 0.8,
  shortReignMax: 3,
  dropNewTermAppendChance: 0.5,
  compactMin: 50,
  compactMax: 80,
};

/** Membership churn: conf changes every few ticks, aggressive compaction so joiners need snapshots. */
export const membershipProfile: ScenarioProfile = {
  ...chaosProfile,
  name: "membership",
  confChangeChance: 0.15,
  transferChance: 0.03,
  compactMin: 2,
  compactMax: 8,
};

export const profiles: Record<string, ScenarioProfile> = {
  chaos: chaosProfile,
  figure8: figure8Profile,
  membership: membershipProfile,
};

export function profileNamed(name: string): ScenarioProfile {
  const p = profiles[name];
  if (!p) throw new Error(`unknown profile "${name}" (known: ${Object.keys(profiles).join(", ")})`);
  return p;
}
