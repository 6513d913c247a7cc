// Monitoring against real nodes: three in-process PickboxNodes (real Raft over TCP, real folders, real
// watcher), each with startMonitoring as the node will run it, sharing one dashboard port.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { waitFor } from "../integration/helpers/cluster.ts";
import { getJson, type Json } from "./http.ts";
import { MonitoredCluster } from "./monitored-cluster.ts";
import { checkExposition, type Sample } from "./prometheus-grammar.ts";

let c: MonitoredCluster;
beforeAll(async () => {
  c = await MonitoredCluster.start(3);
}, 60_000);
afterAll(async () => {
  await c?.destroy();
});

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

async function prometheus(i: number) {
  const r = await fetch(c.monitorUrl(i, "/metrics/prometheus"));
  return checkExposition(await r.text()).samples;
}

describe("a 3-node cluster", () => {
  test("a file written on node2 shows up in every node's metrics, histograms and logs", async () => {
    const payload = "hello from node2\n";
    writeFileSync(path.join(c.handle(1).folder, "report.txt"), payload);
    const bodies: Json[] = await waitFor(
      "every node to count the replicated file",
      async () => {
        const all = await Promise.all([0, 1, 2].map((i) => getJson(c.monitorUrl(i, "/metrics"))));
        return all.every((b) => b.files_replicated >= 1) && all;
      },
      20_000,
    );
    for (const [i, b] of bodies.entries()) {
      expect(b.node_id).toBe(`node${i + 1}`);
      expect(b.bytes_replicated).toBeGreaterThanOrEqual(payload.length);
      expect(b.replication_errors).toBe(0);
      // Detected on node2 → applied here, on one host: a real, bounded number.
      expect(b.avg_replication_time_ms).toBeGreaterThanOrEqual(0);
      expect(b.avg_replication_time_ms).toBeLessThan(20_000);
      expect(b.last_replication_time).not.toBe("never");
    }

    const leader = c.live().findIndex((h) => h.node.raft.isLeader);
    for (let i = 0; i < 3; i++) {
      const s = await prometheus(i);
      const st = c.handle(i).node.statusSnapshot();
      expect(value(s, "pickbox_node_info", { node: `node${i + 1}` })).toBe(1);
      expect(value(s, "pickbox_raft_term")).toBe(st.term);
      expect(value(s, "pickbox_raft_commit_index")).toBeGreaterThanOrEqual(1);
      expect(value(s, "pickbox_raft_applied_index")).toBeGreaterThanOrEqual(1);
      expect(value(s, "pickbox_raft_role", { role: i === leader ? "leader" : "follower" })).toBe(1);
      expect(value(s, "pickbox_replication_latency_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(value(s, "pickbox_files")).toBeGreaterThanOrEqual(1);
      expect(value(s, "pickbox_chunks")).toBeGreaterThanOrEqual(1);
      expect(value(s, "pickbox_dedup_ratio")).toBeGreaterThan(0);
      expect(value(s, "pickbox_process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
      // Every member talked to the others (heartbeats and the change), and the counters say so.
      expect(value(s, "pickbox_network_received_bytes_total")).toBeGreaterThan(0);
      expect(value(s, "pickbox_network_sent_bytes_total")).toBeGreaterThan(0);
    }
    // The leader proposed (and timed) the change, and sees both peers' lag.
    const ls = await prometheus(leader);
    expect(value(ls, "pickbox_raft_proposals_total", { result: "ok" })).toBeGreaterThanOrEqual(1);
    expect(value(ls, "pickbox_raft_commit_latency_seconds_count")).toBeGreaterThanOrEqual(1);
    const peers = ls.filter((x) => x.name === "pickbox_raft_peer_lag_entries").map((x) => x.labels.peer);
    expect(peers.sort()).toEqual([1, 2, 3].map((n) => `node${n}`).filter((id) => id !== `node${leader + 1}`));

    // Structured log lines in each node's own .pickbox/node.log (pino JSON).
    for (let i = 0; i < 3; i++) {
      const file = path.join(c.handle(i).folder, ".pickbox", "node.log");
      const line = await waitFor("the apply log line", () =>
        readFileSync(file, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .find((l) => l.msg === "applied" && l.path === "report.txt"),
      );
      expect(line).toMatchObject({
        node: `node${i + 1}`,
        level: 30,
        op: "put",
        origin: "node2",
        event: "apply",
      });
      expect(line.term).toBeGreaterThanOrEqual(1);
      expect(line.index).toBeGreaterThanOrEqual(1);
      expect(typeof line.latencyMs).toBe("number");
    }
  }, 60_000);

  test("/health and /ready agree on the leader everywhere", async () => {
    const healths = await Promise.all([0, 1, 2].map((i) => getJson(c.monitorUrl(i, "/health"))));
    const leaders = new Set(healths.map((h) => h.leader));
    expect(leaders.size).toBe(1);
    expect([...leaders][0]).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const h of healths) {
      expect(h.peers).toHaveLength(2);
      expect(h.commit_index).toBeGreaterThanOrEqual(1);
    }
    for (let i = 0; i < 3; i++) expect((await fetch(c.monitorUrl(i, "/ready"))).status).toBe(200);
  });

  test("the dashboard shows all three nodes; with its node down, another node serves it and shows it down", async () => {
    const before = await getJson(c.dashboardUrl("/api/cluster"));
    expect(before.served_by).toBe("node1");
    expect(before.members.map((m: Json) => [m.id, m.up]).sort()).toEqual([
      ["node1", true],
      ["node2", true],
      ["node3", true],
    ]);
    expect(before.summary.total_nodes).toBe(3);

    await c.stopNode(0);
    const after: Json = await waitFor(
      "another node to serve the dashboard, with node1 down and a new leader",
      async () => {
        const b = await getJson(c.dashboardUrl("/api/cluster"));
        const n1 = b.members.find((m: Json) => m.id === "node1");
        return (
          b.served_by !== "node1" && n1 && !n1.up && b.members.some((m: Json) => m.state === "Leader") && b
        );
      },
      30_000,
    );
    const n1 = after.members.find((m: Json) => m.id === "node1");
    expect(n1.error).toBeTruthy();
    expect(after.members.filter((m: Json) => m.up)).toHaveLength(2);
    // The page itself is served too.
    const page = await fetch(c.dashboardUrl("/"));
    expect(await page.text()).toContain(`Node: <span id="served-by">${after.served_by}</span>`);
  }, 60_000);
});
