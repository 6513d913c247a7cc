// `pickbox cluster status|join|remove|transfer` against a real 3-node cluster (started by cluster_manager.sh
// on a free port layout), through the compiled binary as a user runs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type PortPlan, portArgs, schemaPorts } from "../scripts/helpers/ports.ts";
import { BINARY, CM, killRecorded, recordedPids, run, waitUntil } from "../scripts/helpers/run.ts";

const dataDir = mkdtempSync(path.join(os.tmpdir(), "pickbox-clustercmd-"));
let ports: PortPlan;
let opts: string[];

interface View {
  leader: string | null;
  health: string;
  voters: number;
  learners: number;
  members: {
    id: string;
    voter: boolean;
    role: string | null;
    health: string;
    lag: number | null;
    adminAddress: string | null;
  }[];
}

async function view(adminOffset = 0): Promise<View> {
  const r = await run([
    BINARY,
    "cluster",
    "status",
    "--addr",
    `127.0.0.1:${ports.admin + adminOffset}`,
    "--json",
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as View;
}

beforeAll(async () => {
  ports = await schemaPorts(4);
  opts = ["-n", "3", ...portArgs(ports), "--data-dir", dataDir, "--binary", BINARY];
  const r = await run([CM, "start", ...opts]);
  if (r.code !== 0) throw new Error(`cluster did not start: ${r.stdout}${r.stderr}`);
}, 90_000);

afterAll(async () => {
  await run([CM, "clean", ...opts, "-n", "4"], { timeoutMs: 30_000 });
  killRecorded(dataDir);
});

describe("pickbox cluster", () => {
  test("status: every member with role, voter/learner, indices, lag, contact and health", async () => {
    const r = await run([BINARY, "cluster", "status", "--addr", `127.0.0.1:${ports.admin + 2}`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`Cluster status via 127.0.0.1:${ports.admin + 2}`);
    expect(lines[1]).toMatch(
      /^✅ healthy: leader node1 \(term \d+\) · 3 voters \(3 up, quorum 2\) · 0 learners$/,
    );
    expect(lines[3]).toMatch(
      /^NODE +ROLE +MEMBER +RAFT +ADMIN +TERM +COMMIT +APPLIED +LAST +MATCH +LAG +CONTACT +FILES +HEALTH$/,
    );
    expect(lines[4]).toMatch(
      new RegExp(
        `^node1 +leader +voter +127\\.0\\.0\\.1:${ports.raft} +127\\.0\\.0\\.1:${ports.admin} .* 0ms +0 +ok$`,
      ),
    );
    expect(lines[5]).toMatch(/^node2 +follower +voter .* ok$/);
    expect(lines[6]).toMatch(/^node3 +follower +voter .* ok$/);

    const v = await view();
    expect(v.members.map((m) => [m.id, m.role, m.voter, m.health])).toEqual([
      ["node1", "leader", true, "ok"],
      ["node2", "follower", true, "ok"],
      ["node3", "follower", true, "ok"],
    ]);
  });

  test("status of an unreachable address: clear error and exit 1", async () => {
    const free = ports.admin + 3; // node4's admin port: reserved by the plan (4 nodes), never started
    const r = await run([BINARY, "cluster", "status", "--addr", `127.0.0.1:${free}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`❌ Cannot get cluster status from admin server at 127.0.0.1:${free}`);
    expect(r.stderr).toContain("connection refused (is the node running?)");
    expect(r.stdout).toBe("");
  });

  test("transfer: to a named voter, then to the most up-to-date one", async () => {
    const r = await run([BINARY, "cluster", "transfer", "node2", "--addr", `127.0.0.1:${ports.admin + 2}`]);
    expect(r.stdout + r.stderr).toBe("✅ Leadership transferred from node1 to node2\n");
    expect((await view()).leader).toBe("node2");
    const again = await run([BINARY, "cluster", "transfer", "--addr", `127.0.0.1:${ports.admin}`]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^✅ Leadership transferred from node2 to node[13]\n$/);
    const same = await run([
      BINARY,
      "cluster",
      "transfer",
      "--to",
      (await view()).leader!,
      "-a",
      `127.0.0.1:${ports.admin}`,
    ]);
    expect(same.stdout).toMatch(/^node\d already leads/);
    const bad = await run([BINARY, "cluster", "transfer", "node9", "--addr", `127.0.0.1:${ports.admin}`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("TRANSFER via");
  });

  test("remove, then join again with the original's flags (-L -n -a) and the long ones", async () => {
    const rm = await run([BINARY, "cluster", "remove", "node3", "--addr", `127.0.0.1:${ports.admin + 1}`]);
    expect(rm.stdout).toBe("✅ Removed node3 from the cluster\n");
    await waitUntil("2 members", async () => (await view()).members.length === 2);

    const join = await run([
      BINARY,
      "cluster",
      "join",
      "-L",
      `127.0.0.1:${ports.raft + 1}`,
      "-n",
      "node3",
      "-a",
      `127.0.0.1:${ports.raft + 2}`,
    ]);
    expect(join.code, join.stderr).toBe(0);
    expect(join.stdout).toBe(
      `Attempting to join node node3 (127.0.0.1:${ports.raft + 2}) to cluster via 127.0.0.1:${ports.admin + 1}...\n` +
        "✅ Successfully joined node node3 to cluster as a voter\n",
    );
    await waitUntil("node3 healthy again", async () => {
      const v = await view();
      return v.members.length === 3 && v.members.every((m) => m.health === "ok");
    });
    const long = await run([
      BINARY,
      "cluster",
      "join",
      "--leader",
      `127.0.0.1:${ports.raft}`,
      "--node-id",
      "node3",
      "--node-addr",
      `127.0.0.1:${ports.raft + 2}`,
    ]);
    expect(long.code).toBe(0);

    const missing = await run([BINARY, "cluster", "join", "-L", `127.0.0.1:${ports.raft}`, "-n", "node9"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("required option '-a, --node-addr <host:port>' not specified");
  });

  test("a stopped member shows as down and the cluster as degraded (exit 0: the cluster answered)", async () => {
    const node3 = recordedPids(dataDir).find((p) => p.id === "node3")!;
    process.kill(node3.pid, "SIGTERM");
    const v = await waitUntil("node3 down", async () => {
      const x = await view();
      return x.members.find((m) => m.id === "node3")?.health === "down" ? x : null;
    });
    expect(v.health).toBe("degraded");
    const r = await run([BINARY, "cluster", "status", "-a", `127.0.0.1:${ports.admin}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^⚠️ {2}degraded: leader node\d \(term \d+\) · 3 voters \(2 up, quorum 2\)/m);
    expect(r.stdout).toMatch(/^ {2}- node3 does not answer: /m);
  });
});

describe("pickbox cluster status on arbitrary ports", () => {
  test("admin ports unrelated to raft ports: every member is still found and reported (CLUSTER_JSON)", async () => {
    const { TestCluster } = await import("../integration/helpers/cluster.ts");
    const c = await TestCluster.start({ size: 3 });
    try {
      const r = await run([BINARY, "cluster", "status", "--json", "-a", `127.0.0.1:${c.node(2).adminPort}`]);
      expect(r.code, r.stderr).toBe(0);
      const v = JSON.parse(r.stdout) as View;
      expect(v.health).toBe("healthy");
      expect(v.members.map((m) => m.adminAddress)).toEqual(
        [0, 1, 2].map((i) => `127.0.0.1:${c.node(i).adminPort}`),
      );
    } finally {
      await c.destroy();
    }
  }, 60_000);
});
