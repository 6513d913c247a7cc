import { describe, expect, test } from "bun:test";
import { formatFailure, replayCommand, runSeed, type SeedResult } from "./run-seed.ts";
import { chaosProfile, figure8Profile, type ScenarioProfile } from "./scenario-profile.ts";

// The simulator must be able to fail: cores with a classic Raft bug must trip a safety invariant within a
// bounded number of seeds. Nothing here names the expected seed; the invariant checker finds it.
const SAFETY = new Set([
  "election-safety",
  "log-matching",
  "leader-completeness",
  "committed-entry-changed",
  "state-machine-safety",
  "read-index-linearizable",
]);

function firstViolation(variant: string, profile: ScenarioProfile, maxSeeds: number): SeedResult | null {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const r = runSeed({ seed, nodes: seed % 2 === 1 ? 3 : 5, variant, profile });
    if (!r.ok) return r;
  }
  return null;
}

describe("the simulator catches deliberately broken cores", () => {
  test("votes without the log restriction (logIsUpToDate always true): caught within 100 chaos seeds", () => {
    const r = firstViolation("vote-any-log", chaosProfile, 100);
    expect(r).not.toBeNull();
    console.log(`vote-any-log caught: ${r!.detail}\n  ${replayCommand(r!)}`);
    expect(SAFETY.has(r!.invariant!)).toBe(true);
  });

  test("Figure 8 (canCommit counts replicas of earlier-term entries): caught within 600 figure-8 seeds", () => {
    const r = firstViolation("commit-any-term", figure8Profile, 600);
    expect(r).not.toBeNull();
    console.log(`commit-any-term caught: ${r!.detail}\n  ${replayCommand(r!)}`);
    if (!SAFETY.has(r!.invariant!)) console.error(formatFailure(r!));
    expect(SAFETY.has(r!.invariant!)).toBe(true);
  });

  test("the same Figure-8 seeds are clean with the correct core (the bias alone breaks nothing)", () => {
    const r = firstViolation("commit-any-term", figure8Profile, 600);
    expect(r).not.toBeNull();
    const again = runSeed({ seed: r!.seed, nodes: r!.nodes, profile: figure8Profile });
    expect(again.ok).toBe(true);
  });
});
