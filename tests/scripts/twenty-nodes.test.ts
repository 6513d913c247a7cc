// 1 to 20+ nodes: a 20-node cluster on this machine (5 voters, 15 learners via --max-voters 5) gets a file
// written on one node into all 20 folders. Prints the start-up and replication times.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { portArgs, schemaPorts } from "./helpers/ports.ts";
import { BINARY, CM, killRecorded, run, waitUntil } from "./helpers/run.ts";

const N = 20;
const dataDir = mkdtempSync(path.join(os.tmpdir(), "pickbox-20-"));

afterAll(async () => {
  await run([CM, "clean", "--data-dir", dataDir], { timeoutMs: 60_000 });
  killRecorded(dataDir);
});

test("20 nodes: every folder gets a file written on a learner; status shows 5 voters and 15 learners", async () => {
  const ports = await schemaPorts(N);
  const opts = ["-n", String(N), ...portArgs(ports), "--data-dir", dataDir, "--binary", BINARY];
  const start = await run([CM, "start", ...opts, "--max-voters", "5", "-t", "90"], { timeoutMs: 120_000 });
  expect(start.code, start.stdout + start.stderr).toBe(0);

  const content = `written on node${N} at ${new Date().toISOString()}\n`;
  const t0 = performance.now();
  writeFileSync(path.join(dataDir, `node${N}`, "to-all-20.txt"), content);
  const pending = new Set(Array.from({ length: N }, (_, i) => i + 1));
  await waitUntil(
    "to-all-20.txt in all 20 folders",
    () => {
      for (const i of pending) {
        const f = path.join(dataDir, `node${i}`, "to-all-20.txt");
        if (existsSync(f) && readFileSync(f, "utf8") === content) pending.delete(i);
      }
      return pending.size === 0;
    },
    60_000,
    10,
  );
  const replicationMs = performance.now() - t0;
  console.log(
    `20-node cluster: start-up ${(start.ms / 1000).toFixed(1)} s; a file written on node${N} (a learner) ` +
      `was in all ${N} folders after ${replicationMs.toFixed(0)} ms`,
  );

  const json = await run([BINARY, "cluster", "status", "--addr", `127.0.0.1:${ports.admin}`, "--json"]);
  const view = JSON.parse(json.stdout) as {
    voters: number;
    learners: number;
    health: string;
    members: { id: string; voter: boolean; role: string | null; files: number | null }[];
  };
  expect(view.members.length).toBe(N);
  expect(view.voters).toBe(5);
  expect(view.learners).toBe(15);
  expect(view.members.filter((m) => m.voter).map((m) => m.id)).toEqual([
    "node1",
    "node2",
    "node3",
    "node4",
    "node5",
  ]);
  expect(view.members.every((m) => m.role !== null)).toBe(true);

  const text = await run([BINARY, "cluster", "status", "--addr", `127.0.0.1:${ports.admin + 7}`]);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/5 voters \(5 up, quorum 3\) · 15 learners/);
  expect(text.stdout).toMatch(/^node20 +follower +learner /m);

  const status = await run([CM, "status", ...opts]);
  expect(status.stdout).toMatch(/20 members: 5 voters, 15 learners/);
  expect(status.stdout).toContain("Role:     Follower (learner)");
}, 180_000);
