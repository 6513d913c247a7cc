import { describe, expect, test } from "bun:test";
import { formatFailure, replayCommand, runSeed, type SeedResult } from "./run-seed.ts";
import { chaosProfile, figure8Profile, membershipProfile, type ScenarioProfile } from "./scenario-profile.ts";

// Seeds per CI run; raise locally with SIM_SEEDS=20000 bun test tests/simulation.
const SEEDS = Number(process.env.SIM_SEEDS ?? 2000);
const FIGURE8_SEEDS = Number(process.env.SIM_FIGURE8_SEEDS ?? Math.ceil(SEEDS / 4));
const FIRST_SEED = Number(process.env.SIM_FIRST_SEED ?? 1);
const CHUNK = 250;

/** Odd seeds run 3-node clusters, even seeds 5-node clusters. */
function nodesFor(seed: number): number {
  return seed % 2 === 1 ? 3 : 5;
}

interface RangeOptions {
  profile: ScenarioProfile;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Only safety counts (a known liveness gap in this configuration, see known-failures.md). */
  safetyOnly?: boolean;
}

function runRange(from: number, to: number, o: RangeOptions): SeedResult[] {
  const failures: SeedResult[] = [];
  for (let seed = from; seed <= to; seed++) {
    const r = runSeed({
      seed,
      nodes: nodesFor(seed),
      profile: o.profile,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
    });
    if (!r.ok && !(o.safetyOnly && r.invariant === "liveness")) failures.push(r);
  }
  if (failures.length > 0) {
    for (const f of failures.slice(0, 3)) console.error(formatFailure(f));
  }
  return failures;
}

function summary(failures: SeedResult[]): string[] {
  return failures.map(
    (f) => `${f.invariant} at seed ${f.seed} (${f.nodes} nodes): ${replayCommand(f)} --trace`,
  );
}

function chunks(total: number, first: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let from = first; from < first + total; from += CHUNK)
    out.push([from, Math.min(from + CHUNK - 1, first + total - 1)]);
  return out;
}

describe("deterministic simulation of the Raft core", () => {
  for (const [from, to] of chunks(SEEDS, FIRST_SEED)) {
    test(`chaos seeds ${from}..${to} (3 and 5 nodes): every invariant holds, liveness after healing`, () => {
      expect(summary(runRange(from, to, { profile: chaosProfile }))).toEqual([]);
    });
  }

  for (const [from, to] of chunks(FIGURE8_SEEDS, FIRST_SEED)) {
    test(`figure-8 biased seeds ${from}..${to}: the correct core never commits an earlier-term entry unsafely`, () => {
      expect(summary(runRange(from, to, { profile: figure8Profile }))).toEqual([]);
    });
  }

  // Safety must not depend on PreVote or CheckQuorum (they only protect availability).
  const OPTIONAL_SEEDS = Math.ceil(SEEDS / 8);
  for (const [preVote, checkQuorum] of [
    [false, true],
    [true, false],
    [false, false],
  ] as const) {
    test(`chaos seeds 1..${OPTIONAL_SEEDS} with preVote=${preVote}, checkQuorum=${checkQuorum}: safety holds`, () => {
      const o = { profile: chaosProfile, preVote, checkQuorum, safetyOnly: !preVote && !checkQuorum };
      expect(summary(runRange(1, OPTIONAL_SEEDS, o))).toEqual([]);
    });
  }

  // Known liveness gap (known-failures.md): a candidate whose term is behind a stale voter that does not
  // know it is never told the higher term, because lower-term vote requests are dropped without a reply.
  test.todo("liveness with preVote=false, checkQuorum=false: seed 329, 3 nodes (stale voter outruns candidate)", () => {
    const r = runSeed({ seed: 329, nodes: 3, preVote: false, checkQuorum: false });
    if (!r.ok) console.error(formatFailure(r));
    expect(r.ok).toBe(true);
  });

  test.todo("liveness with preVote=false, checkQuorum=false: seed 395, 5 nodes, membership (removed server disrupts)", () => {
    const r = runSeed({
      seed: 395,
      nodes: 5,
      profile: membershipProfile,
      preVote: false,
      checkQuorum: false,
    });
    if (!r.ok) console.error(formatFailure(r));
    expect(r.ok).toBe(true);
  });

  for (const [from, to] of chunks(Math.ceil(SEEDS / 8), FIRST_SEED)) {
    test(`membership churn seeds ${from}..${to}: conf change every few ticks, frequent snapshots`, () => {
      expect(summary(runRange(from, to, { profile: membershipProfile }))).toEqual([]);
    });
  }

  test("a seed replays exactly: byte-identical full trace", () => {
    const trace = (seed: number) => {
      const lines: string[] = [];
      const r = runSeed({ seed, nodes: 5, onTrace: (l) => lines.push(l) });
      expect(r.ok).toBe(true);
      return lines.join("\n");
    };
    const a = trace(4242);
    const b = trace(4242);
    expect(a.split("\n").length).toBeGreaterThan(1000);
    expect(b).toBe(a);
    expect(trace(4243)).not.toBe(a);
  });

  test("the chaos actually happens: faults, snapshots, membership changes, elections and reads", () => {
    const totals = {
      delivered: 0,
      dropped: 0,
      crashes: 0,
      snapshotsSent: 0,
      confChanges: 0,
      elections: 0,
      reads: 0,
    };
    for (let seed = 1; seed <= 40; seed++) {
      const r = runSeed({ seed, nodes: nodesFor(seed) });
      expect(r.ok).toBe(true);
      for (const k of Object.keys(r.stats) as Array<keyof typeof r.stats>) totals[k] += r.stats[k];
      totals.reads += r.readsChecked;
    }
    expect(totals.dropped).toBeGreaterThan(totals.delivered / 50);
    expect(totals.crashes).toBeGreaterThan(40);
    expect(totals.snapshotsSent).toBeGreaterThan(40);
    expect(totals.confChanges).toBeGreaterThan(40);
    expect(totals.elections).toBeGreaterThan(80);
    expect(totals.reads).toBeGreaterThan(100);
  });
});
