// Monitoring in the compiled binary: a 3-process cluster (TestCluster), every node's monitor port, the
// shared dashboard port, and the dashboard moving to another node when node1 is killed.
// Runs once the composition root starts monitoring (PickboxNode.start() calls startMonitoring); until
// then it is skipped with a note.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { TestCluster, waitFor } from "../integration/helpers/cluster.ts";
import { getJson, type Json } from "./http.ts";
import { checkExposition } from "./prometheus-grammar.ts";

const root = path.resolve(import.meta.dir, "../..");
const wired = ["src/node/pickbox-node.ts", "src/cli/commands/node.ts"].some((f) =>
  readFileSync(path.join(root, f), "utf8").includes("startMonitoring("),
);
if (!wired) console.warn("skipping binary monitoring tests: the node does not call startMonitoring yet");

describe.skipIf(!wired)("monitoring in the compiled binary", () => {
  let c: TestCluster;
  const url = (i: number, p: string) => `http://127.0.0.1:${c.node(i).monitorPort}${p}`;
  const dash = (p: string) => `http://127.0.0.1:${c.node(0).dashboardPort}${p}`;

  beforeAll(async () => {
    c = await TestCluster.start({ size: 3 });
  }, 90_000);
  afterAll(async () => {
    await c?.destroy();
  });

  test("every node's monitor port answers with real values after a write", async () => {
    writeFileSync(path.join(c.folder(1), "from-node2.txt"), "payload\n");
    const all: Json[] = await waitFor(
      "the file counted on every node",
      async () => {
        const bodies = await Promise.all([0, 1, 2].map((i) => getJson(url(i, "/metrics"))));
        return bodies.every((b) => b.files_replicated >= 1) && bodies;
      },
      30_000,
    );
    expect(all.map((b) => b.node_id)).toEqual(["node1", "node2", "node3"]);
    for (let i = 0; i < 3; i++) {
      const h = await getJson(url(i, "/health"));
      expect(h.peers).toHaveLength(2);
      expect(h.leader).toMatch(/^127\.0\.0\.1:\d+$/);
      expect((await fetch(url(i, "/ready"))).status).toBe(200);
      expect(await (await fetch(url(i, "/live"))).text()).toBe("alive");
      const { samples } = checkExposition(await (await fetch(url(i, "/metrics/prometheus"))).text());
      expect(
        samples.find((s) => s.name === "pickbox_replication_latency_seconds_count")?.value,
      ).toBeGreaterThan(0);
    }
  }, 60_000);

  test("one dashboard for the host shows all three nodes, and survives node1 being killed", async () => {
    const before = await waitFor("the dashboard", () => getJson(dash("/api/cluster")), 15_000);
    expect(before.members.filter((m: Json) => m.up)).toHaveLength(3);
    const server = before.served_by as string;
    const idx = c.nodes.findIndex((n) => n.id === server);
    await c.kill(idx);
    const after: Json = await waitFor(
      "another node to serve the dashboard",
      async () => {
        const b = await getJson(dash("/api/cluster"));
        const down = b.members.find((m: Json) => m.id === server);
        return b.served_by !== server && down && !down.up && b;
      },
      40_000,
      200,
    );
    expect(after.members.filter((m: Json) => m.up)).toHaveLength(2);
  }, 90_000);
});
