import { ClusterSim, type SimOptions } from "./cluster-sim.ts";
import { InvariantViolation } from "./invariant-checker.ts";
import { chaosProfile } from "./scenario-profile.ts";

export interface SeedResult {
  seed: number;
  nodes: number;
  variant: string;
  profile: string;
  preVote: boolean;
  checkQuorum: boolean;
  ok: boolean;
  /** The broken invariant, or "exception" when the core or harness threw. */
  invariant?: string;
  detail?: string;
  traceTail: string[];
  ticks: number;
  livenessTicks?: number;
  stats: ClusterSim["stats"];
  readsChecked: number;
}

/** Run one seed end to end and report, never throw: the caller decides how to print a failure. */
export function runSeed(opts: SimOptions): SeedResult {
  const sim = new ClusterSim(opts);
  const base = {
    seed: opts.seed,
    nodes: opts.nodes,
    variant: opts.variant ?? "correct",
    profile: (opts.profile ?? chaosProfile).name,
    preVote: opts.preVote ?? true,
    checkQuorum: opts.checkQuorum ?? true,
  };
  try {
    sim.run();
    return {
      ...base,
      ok: true,
      traceTail: [],
      ticks: sim.ticks,
      stats: sim.stats,
      readsChecked: sim.checker.readsChecked,
    };
  } catch (e) {
    const v = e instanceof InvariantViolation;
    return {
      ...base,
      ok: false,
      invariant: v ? e.invariant : "exception",
      detail: v ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e),
      traceTail: sim.trace.tail(),
      ticks: sim.ticks,
      stats: sim.stats,
      readsChecked: sim.checker.readsChecked,
    };
  }
}

export function replayCommand(
  r: Pick<SeedResult, "seed" | "nodes" | "variant" | "profile" | "preVote" | "checkQuorum">,
): string {
  let cmd = `bun tests/simulation/replay.ts --seed ${r.seed} --nodes ${r.nodes}`;
  if (r.variant !== "correct") cmd += ` --variant ${r.variant}`;
  if (r.profile !== "chaos") cmd += ` --profile ${r.profile}`;
  if (!r.preVote) cmd += " --no-prevote";
  if (!r.checkQuorum) cmd += " --no-checkquorum";
  return cmd;
}

export function formatFailure(r: SeedResult, tailLines = 30): string {
  return [
    `simulation failure: seed ${r.seed}, ${r.nodes} nodes, variant ${r.variant}, profile ${r.profile}, preVote=${r.preVote}, checkQuorum=${r.checkQuorum}, at tick ${r.ticks}`,
    `invariant: ${r.invariant}`,
    `detail: ${r.detail}`,
    `replay: ${replayCommand(r)} --trace`,
    "trace tail:",
    ...r.traceTail.slice(-tailLines).map((l) => `  ${l}`),
  ].join("\n");
}
