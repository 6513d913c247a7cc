import { describe, expect, test } from "bun:test";
import { dedupRatio, NodeMetrics } from "../../src/monitor/node-metrics.ts";
import { NotLeaderError } from "../../src/raft/driver/raft-node.ts";
import { baseStatus, FakeNode } from "./fake-node.ts";
import { optionalModule } from "./optional-deps.ts";
import { checkExposition, type Sample } from "./prometheus-grammar.ts";
import type { ParsePrometheusTextFormat } from "./prometheus-parser-types.ts";

const parser = await optionalModule<{ default: ParsePrometheusTextFormat }>(
  "parse-prometheus-text-format",
  "npm install -D parse-prometheus-text-format@1.1.1",
);

function clock(start = 5_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

/** A node with some history: three files applied (10, 20, 30 ms after their origin's mtime), one conflict. */
async function busyMetrics() {
  const node = new FakeNode();
  const c = clock();
  const m = new NodeMetrics(node, c.now);
  const undo = m.instrumentProposals();
  const off = node.events.subscribe((e) => m.handle(e));
  for (const [i, lat] of [10, 20, 30].entries())
    node.events.fsm.emit({
      type: "apply",
      op: "put",
      path: `f${i}.txt`,
      origin: "node2",
      size: 100,
      hash: "h",
      index: 10 + i,
      applyMs: 1,
      wrote: true,
      mtimeMs: c.t - lat,
    });
  node.events.fsm.emit({
    type: "conflict",
    path: "f0.txt",
    conflictPath: "f0.sync-conflict-20250101-000000-node3.txt",
    origin: "node3",
    size: 7,
    hash: "h2",
    index: 14,
    applyMs: 1,
  });
  // Proposals: one ok taking 40 ms, one refused (not leader), one failing for good.
  let release!: (v: unknown) => void;
  node.proposeImpl = () => new Promise((r) => (release = r));
  const p = node.raft.propose(new Uint8Array([1]));
  c.t += 40;
  release("done");
  expect(await p).toBe("done");
  node.proposeImpl = () => Promise.reject(new NotLeaderError("node2"));
  await expect(node.raft.propose(new Uint8Array([2]))).rejects.toThrow("not the leader");
  node.proposeImpl = () => Promise.reject(new Error("disk full"));
  await expect(node.raft.propose(new Uint8Array([3]))).rejects.toThrow("disk full");
  return { node, m, c, undo, off };
}

describe("NodeMetrics", () => {
  test("the exposition passes a strict line-grammar check and carries real values", async () => {
    const { m } = await busyMetrics();
    const { types, samples } = checkExposition(await m.prometheus());
    expect(types.get("pickbox_replication_latency_seconds")).toBe("histogram");
    expect(types.get("pickbox_raft_commit_latency_seconds")).toBe("histogram");
    expect(types.get("pickbox_raft_proposals_total")).toBe("counter");
    expect(types.get("pickbox_raft_term")).toBe("gauge");
    // The node is named once, by the info metric (the scraper labels targets).
    expect(value(samples, "pickbox_node_info", { node: "node1" })).toBe(1);
    expect(value(samples, "pickbox_raft_term")).toBe(3);
    expect(value(samples, "pickbox_raft_role", { role: "leader" })).toBe(1);
    expect(value(samples, "pickbox_raft_role", { role: "follower" })).toBe(0);
    expect(value(samples, "pickbox_raft_leader_known")).toBe(1);
    expect(value(samples, "pickbox_raft_commit_index")).toBe(42);
    expect(value(samples, "pickbox_raft_applied_index")).toBe(41);
    expect(value(samples, "pickbox_raft_last_log_index")).toBe(44);
    expect(value(samples, "pickbox_raft_apply_lag_entries")).toBe(1);
    expect(value(samples, "pickbox_raft_members", { kind: "voter" })).toBe(3);
    // Per-peer lag from the leader's progress (lastIndex 44 − match), the leader itself excluded.
    expect(value(samples, "pickbox_raft_peer_lag_entries", { peer: "node2" })).toBe(4);
    expect(value(samples, "pickbox_raft_peer_lag_entries", { peer: "node3" })).toBe(0);
    expect(value(samples, "pickbox_raft_peer_lag_entries", { peer: "node1" })).toBeUndefined();
    expect(value(samples, "pickbox_raft_peer_last_contact_seconds", { peer: "node2" })).toBeCloseTo(0.15);
    expect(value(samples, "pickbox_raft_proposals_total", { result: "ok" })).toBe(1);
    expect(value(samples, "pickbox_raft_proposals_total", { result: "not_leader" })).toBe(1);
    expect(value(samples, "pickbox_raft_proposals_total", { result: "error" })).toBe(1);
    expect(value(samples, "pickbox_raft_commit_latency_seconds_count")).toBe(1);
    expect(value(samples, "pickbox_raft_commit_latency_seconds_sum")).toBeCloseTo(0.04);
    expect(value(samples, "pickbox_raft_commit_latency_seconds_bucket", { le: "0.025" })).toBe(0);
    expect(value(samples, "pickbox_raft_commit_latency_seconds_bucket", { le: "0.05" })).toBe(1);
    expect(value(samples, "pickbox_replication_latency_seconds_count")).toBe(3);
    expect(value(samples, "pickbox_replication_latency_seconds_sum")).toBeCloseTo(0.06);
    expect(value(samples, "pickbox_replication_latency_seconds_bucket", { le: "0.01" })).toBe(1);
    expect(value(samples, "pickbox_replication_latency_seconds_bucket", { le: "0.025" })).toBe(2);
    expect(value(samples, "pickbox_files_replicated_total")).toBe(4); // 3 applies + the conflict copy
    expect(value(samples, "pickbox_bytes_replicated_total")).toBe(307);
    expect(value(samples, "pickbox_conflicts_total")).toBe(1);
    expect(value(samples, "pickbox_replication_errors_total")).toBe(1);
    expect(value(samples, "pickbox_files")).toBe(7);
    expect(value(samples, "pickbox_directories")).toBe(2);
    expect(value(samples, "pickbox_file_bytes")).toBe(3000);
    expect(value(samples, "pickbox_chunks")).toBe(5);
    expect(value(samples, "pickbox_chunk_bytes")).toBe(1500);
    expect(value(samples, "pickbox_network_received_bytes_total")).toBe(123_456);
    expect(value(samples, "pickbox_network_sent_bytes_total")).toBe(654_321);
    expect(value(samples, "pickbox_dedup_ratio")).toBe(2);
    expect(value(samples, "pickbox_pending_changes")).toBe(2);
    expect(value(samples, "pickbox_process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(value(samples, "pickbox_uptime_seconds")).toBe(62.5);
  });

  test.skipIf(!parser)("parse-prometheus-text-format reads the same exposition", async () => {
    const { m } = await busyMetrics();
    const families = parser!.default(await m.prometheus());
    const byName = new Map(families.map((f) => [f.name, f]));
    expect(byName.get("pickbox_raft_term")).toMatchObject({ type: "GAUGE", metrics: [{ value: "3" }] });
    const hist = byName.get("pickbox_replication_latency_seconds")!;
    expect(hist.type).toBe("HISTOGRAM");
    expect(hist.metrics[0]).toMatchObject({ count: "3" });
    expect(Number(hist.metrics[0]!.sum)).toBeCloseTo(0.06);
    expect(hist.metrics[0]!.buckets!["+Inf"]).toBe("3");
    expect(hist.metrics[0]!.buckets!["0.025"]).toBe("2");
    const proposals = byName.get("pickbox_raft_proposals_total")!;
    expect(proposals.type).toBe("COUNTER");
    expect(proposals.metrics.find((x) => x.labels?.result === "ok")?.value).toBe("1");
    const lag = byName.get("pickbox_raft_peer_lag_entries")!;
    expect(lag.metrics.map((x) => [x.labels?.peer, x.value]).sort()).toEqual([
      ["node2", "4"],
      ["node3", "0"],
    ]);
    // Every family the registry knows came through the parser.
    expect(families.length).toBe(m.registry.getMetricsAsArray().length);
  });

  test("peer series follow the leader: a follower has no per-peer lag, a removed peer disappears", async () => {
    const node = new FakeNode();
    const m = new NodeMetrics(node);
    node.status = baseStatus({ progress: baseStatus().progress.filter((p) => p.id !== "node3") });
    let { samples } = checkExposition(await m.prometheus());
    expect(value(samples, "pickbox_raft_peer_lag_entries", { peer: "node3" })).toBeUndefined();
    node.status = baseStatus({ role: "follower", leader: "node2", progress: [] });
    ({ samples } = checkExposition(await m.prometheus()));
    expect(samples.some((s) => s.name === "pickbox_raft_peer_lag_entries")).toBe(false);
    expect(value(samples, "pickbox_raft_role", { role: "follower" })).toBe(1);
    node.status = baseStatus({ role: "candidate", leader: null, leaderAddress: null, progress: [] });
    ({ samples } = checkExposition(await m.prometheus()));
    expect(value(samples, "pickbox_raft_leader_known")).toBe(0);
  });

  test("a proposal that throws synchronously is counted and rethrown; the wrapper can be undone", async () => {
    const node = new FakeNode();
    const m = new NodeMetrics(node);
    const original = node.raft.propose;
    const undo = m.instrumentProposals();
    expect(node.raft.propose).not.toBe(original);
    node.proposeImpl = () => {
      throw new Error("raft node stopped");
    };
    expect(() => node.raft.propose(new Uint8Array())).toThrow("raft node stopped");
    expect(m.stats.counters().replicationErrors).toBe(1);
    undo();
    expect(node.raft.propose).toBe(original);
  });

  test("dedup ratio", () => {
    expect(dedupRatio(0, 0)).toBe(1);
    expect(dedupRatio(300, 100)).toBe(3);
  });
});

describe("the line-grammar checker rejects what a scraper would", () => {
  test.each([
    ["a sample without a TYPE", "x 1\n"],
    ["a bad metric name", "# TYPE 1x gauge\n1x 1\n"],
    ["an unquoted label", "# TYPE x gauge\nx{a=b} 1\n"],
    ["a value that is not a number", "# TYPE x gauge\nx abc\n"],
    ["non-cumulative buckets", '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n'],
    ["a histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\n'],
    ["_count differing from +Inf", '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\n'],
  ])("%s", (_why, text) => {
    expect(() => checkExposition(text)).toThrow();
  });
  test("and accepts escaped label values", () => {
    const { samples } = checkExposition('# TYPE x gauge\nx{p="a\\"b\\\\c\\nd"} 1.5e3\n');
    expect(samples[0]).toEqual({ name: "x", labels: { p: 'a"b\\c\nd' }, value: 1500 });
  });
});
