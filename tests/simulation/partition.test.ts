import { describe, expect, test } from "bun:test";
import { ClusterSim } from "./cluster-sim.ts";

interface Outcome {
  leaderBefore: string;
  termBefore: number;
  leaderAfter: string | null;
  termAfter: number;
  isolatedTermWhileCut: number;
}

/**
 * A calm cluster elects a leader; one follower is cut off for ten election timeouts (both directions, or
 * only its inbound side), then the network heals. Returns who leads, in which term, before and after.
 */
function partitionFollower(seed: number, nodes: number, preVote: boolean, inboundOnly: boolean): Outcome {
  const sim = new ClusterSim({ seed, nodes, calm: true, preVote, checkQuorum: true });
  const electionTick = sim.electionTick;
  sim.runTicks(5 * electionTick);
  const leader = sim.leader();
  if (!leader) throw new Error(`seed ${seed}: no leader in a calm cluster`);
  const termBefore = leader.term;
  // Every node must agree before we disturb anything: a stable leader.
  for (const n of sim.nodeList) expect(n.term).toBe(termBefore);
  const others = sim.nodeList.filter((n) => n.id !== leader.id);
  const victim = others[seed % others.length]!;
  const rest = sim.nodeList.filter((n) => n !== victim).map((n) => n.id);
  if (inboundOnly) for (const id of rest) sim.partitions.block(id, victim.id);
  else sim.partitions.split([victim.id], rest);
  sim.runTicks(10 * electionTick);
  const isolatedTermWhileCut = victim.term;
  sim.healPartitions();
  sim.runTicks(10 * electionTick);
  const after = sim.leader();
  sim.fullCheck();
  return {
    leaderBefore: leader.id,
    termBefore,
    leaderAfter: after?.id ?? null,
    termAfter: after?.term ?? -1,
    isolatedTermWhileCut,
  };
}

describe("a partitioned node does not disturb a stable leader (PreVote + CheckQuorum)", () => {
  for (const nodes of [3, 5]) {
    for (const inboundOnly of [false, true]) {
      const how = inboundOnly ? "hears nothing but can still send" : "is cut off both ways";
      test(`${nodes} nodes: a follower that ${how} for 10 election timeouts, then heals: same leader, same term`, () => {
        for (let seed = 1; seed <= 20; seed++) {
          const o = partitionFollower(seed, nodes, true, inboundOnly);
          expect({ seed, leader: o.leaderAfter, term: o.termAfter }).toEqual({
            seed,
            leader: o.leaderBefore,
            term: o.termBefore,
          });
          // PreVote: the isolated node never even bumped its own term.
          expect(o.isolatedTermWhileCut).toBe(o.termBefore);
        }
      });
    }
  }
});

describe("without PreVote the same partition does disturb the cluster (so the test above can fail)", () => {
  for (const nodes of [3, 5]) {
    test(`${nodes} nodes, preVote=false: the healed follower forces a new term`, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const o = partitionFollower(seed, nodes, false, false);
        expect(o.isolatedTermWhileCut).toBeGreaterThan(o.termBefore);
        expect(o.termAfter).toBeGreaterThan(o.termBefore);
      }
    });
  }
});
