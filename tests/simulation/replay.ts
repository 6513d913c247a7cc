// Replays one simulation seed exactly: same seed, nodes, variant and profile => the same event sequence.
//   bun tests/simulation/replay.ts --seed 1234 --nodes 5 [--variant commit-any-term] [--profile figure8]
//     [--no-prevote] [--no-checkquorum] [--trace]
import { parseArgs } from "node:util";
import { formatFailure, runSeed } from "./run-seed.ts";
import { profileNamed } from "./scenario-profile.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seed: { type: "string" },
    nodes: { type: "string", default: "3" },
    variant: { type: "string", default: "correct" },
    profile: { type: "string", default: "chaos" },
    trace: { type: "boolean", default: false },
    "no-prevote": { type: "boolean", default: false },
    "no-checkquorum": { type: "boolean", default: false },
  },
});

if (values.seed === undefined) {
  console.error(
    "usage: bun tests/simulation/replay.ts --seed N [--nodes 3|5] [--variant V] [--profile P] [--trace]",
  );
  process.exit(2);
}

const lines: string[] = [];
const result = runSeed({
  seed: Number(values.seed),
  nodes: Number(values.nodes),
  variant: values.variant,
  profile: profileNamed(values.profile),
  preVote: !values["no-prevote"],
  checkQuorum: !values["no-checkquorum"],
  onTrace: values.trace ? (l) => lines.push(l) : undefined,
});
if (values.trace) process.stdout.write(`${lines.join("\n")}\n`);
if (result.ok) {
  console.log(
    `seed ${result.seed} ok: ${result.ticks} ticks, liveness in ${result.ticks - profileNamed(values.profile).chaosTicks} ticks, ${JSON.stringify(result.stats)}, reads checked ${result.readsChecked}`,
  );
} else {
  console.log(formatFailure(result));
  process.exit(1);
}
