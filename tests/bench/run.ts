// `bun run bench [name ...]`: runs tests/bench/<name>.bench.ts (all of them when no name is given),
// each in its own process, and prints {"<name>": <its JSON result>, ...}. BENCH_QUICK=1 shortens runs.
import { readdirSync } from "node:fs";
import path from "node:path";

const dir = import.meta.dir;
const available = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.replace(/\.bench\.ts$/, ""))
  .sort();
const wanted = process.argv.slice(2);
for (const w of wanted) {
  if (!available.includes(w)) {
    console.error(`unknown benchmark ${JSON.stringify(w)}; available: ${available.join(", ")}`);
    process.exit(2);
  }
}
const results: Record<string, unknown> = {};
for (const name of wanted.length > 0 ? wanted : available) {
  console.error(`== bench ${name}`);
  const proc = Bun.spawn(["bun", path.join(dir, `${name}.bench.ts`)], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  const code = await proc.exited;
  const jsonStart = out.indexOf("{");
  try {
    results[name] = JSON.parse(out.slice(jsonStart));
  } catch {
    results[name] = { error: `exit ${code}`, output: out.slice(-2000) };
  }
}
console.log(JSON.stringify(results, null, 2));
