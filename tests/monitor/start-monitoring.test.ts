import { afterEach, describe, expect, test } from "bun:test";
import { type Monitoring, startMonitoring } from "../../src/monitor/start-monitoring.ts";
import { freePorts, waitFor } from "../integration/helpers/cluster.ts";
import { baseStatus, FakeNode } from "./fake-node.ts";
import { getJson, type Json } from "./http.ts";

const started: Monitoring[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.close();
});

async function monitorFor(node: FakeNode, o: Parameters<typeof startMonitoring>[1] = {}) {
  const m = await startMonitoring(node, { metricsLogMs: 0, dashboardRetryMs: 0, ...o });
  started.push(m);
  return m;
}

async function fakeWithPorts() {
  const [dashboardPort] = await freePorts(1);
  return new FakeNode({
    nodeId: "node1",
    bindHost: "127.0.0.1",
    monitorPort: 0,
    dashboardPort: dashboardPort!,
  });
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

describe("monitor HTTP server", () => {
  test("/metrics: the original's JSON with values from the node's events", async () => {
    const node = await fakeWithPorts();
    const m = await monitorFor(node);
    node.events.fsm.emit({
      type: "apply",
      op: "put",
      path: "a.txt",
      origin: "node2",
      size: 11,
      hash: "h",
      index: 5,
      applyMs: 1,
      wrote: true,
      mtimeMs: Date.now() - 25,
    });
    const r = await fetch(`http://${m.monitorAddress}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    const text = await r.text();
    expect(text.endsWith("}\n")).toBe(true);
    const body = JSON.parse(text);
    expect(body).toMatchObject({
      node_id: "node1",
      files_replicated: 1,
      files_deleted: 0,
      bytes_replicated: 11,
      replication_errors: 0,
      goroutines: 0,
      uptime: "1m2.5s",
    });
    expect(body.avg_replication_time_ms).toBeGreaterThanOrEqual(25);
    expect(body.avg_replication_time_ms).toBeLessThan(5000);
    expect(body.memory_usage_bytes).toBeGreaterThan(1_000_000);
    expect(body.last_replication_time).toMatch(ISO);
    expect(body.timestamp).toMatch(ISO);
  });

  test("/health: leader's raft address, peers, indices", async () => {
    const node = await fakeWithPorts();
    const m = await monitorFor(node);
    const body = await getJson(`http://${m.monitorAddress}/health`);
    expect(body).toMatchObject({
      node_id: "node1",
      state: "Leader",
      leader: "127.0.0.1:8001",
      peers: ["127.0.0.1:8002", "127.0.0.1:8003"],
      last_log_index: 44,
      commit_index: 42,
      applied_index: 41,
    });
  });

  test("/ready is 200 only while a leader is known; /health stays 200 and /live says alive", async () => {
    const node = await fakeWithPorts();
    const m = await monitorFor(node);
    const get = (p: string) => fetch(`http://${m.monitorAddress}${p}`);
    let r = await get("/ready");
    expect([r.status, await r.text()]).toEqual([200, "ready"]);
    node.status = baseStatus({ role: "follower", leader: null, leaderAddress: null, progress: [] });
    r = await get("/ready");
    expect([r.status, await r.text()]).toEqual([503, "not ready"]);
    r = await get("/health");
    expect(r.status).toBe(200);
    expect(((await r.json()) as Json).leader).toBe("");
    r = await get("/live");
    expect([r.status, await r.text()]).toEqual([200, "alive"]);
  });

  test("/ and any other path describe the service; any method is accepted, as the original did", async () => {
    const node = await fakeWithPorts();
    const m = await monitorFor(node);
    for (const [p, method] of [
      ["/", "GET"],
      ["/anything/else", "GET"],
      ["/", "POST"],
    ] as const) {
      const r = await fetch(`http://${m.monitorAddress}${p}`, { method });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({
        node_id: "node1",
        service: "pickbox-distributed-storage",
        state: "Leader",
        uptime: "1m2.5s",
      });
    }
  });

  test("/metrics/prometheus is Prometheus text 0.0.4", async () => {
    const node = await fakeWithPorts();
    const m = await monitorFor(node);
    const r = await fetch(`http://${m.monitorAddress}/metrics/prometheus`);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await r.text();
    expect(text).toContain("# TYPE pickbox_raft_term gauge");
    expect(text).toContain("pickbox_raft_term 3");
  });

  test("a failing handler answers 500 and the server keeps serving", async () => {
    const node = await fakeWithPorts();
    const m = await monitorFor(node);
    const good = node.statusSnapshot.bind(node);
    node.statusSnapshot = () => {
      throw new Error("boom");
    };
    expect((await fetch(`http://${m.monitorAddress}/health`)).status).toBe(500);
    node.statusSnapshot = good;
    expect((await fetch(`http://${m.monitorAddress}/health`)).status).toBe(200);
    expect(node.lines.some((l) => l.level === "warn" && l.msg === "monitor request failed")).toBe(true);
  });

  test("binds the node's bind host only, and a taken monitor port is logged, not fatal", async () => {
    const node = await fakeWithPorts();
    const m = await monitorFor(node);
    expect(m.monitorAddress).toStartWith("127.0.0.1:");
    const port = Number(m.monitorAddress!.split(":")[1]);
    const [dash] = await freePorts(1);
    const second = new FakeNode({
      nodeId: "node2",
      bindHost: "127.0.0.1",
      monitorPort: port,
      dashboardPort: dash!,
    });
    const m2 = await monitorFor(second);
    expect(m2.monitorAddress).toBeNull();
    expect(second.lines.find((l) => l.level === "error")?.msg).toContain("cannot serve the monitor port");
    expect(m2.dashboardAddress()).toBe(`127.0.0.1:${dash}`);
  });

  test("close() stops the servers, the event subscription and the proposal timing", async () => {
    const node = await fakeWithPorts();
    const original = node.raft.propose;
    const m = await startMonitoring(node, { metricsLogMs: 0, dashboardRetryMs: 0 });
    expect(node.raft.propose).not.toBe(original);
    await m.close();
    expect(node.raft.propose).toBe(original);
    await expect(fetch(`http://${m.monitorAddress}/live`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${node.options.dashboardPort}/`)).rejects.toThrow();
    node.events.fsm.emit({ type: "delete", op: "delete", path: "x", origin: "n", index: 1, applyMs: 0 });
    expect(m.metrics.stats.counters().filesDeleted).toBe(0);
  });
});

describe("structured logs", () => {
  test("every apply and conflict is logged with term, index, path, op and latency", async () => {
    const node = await fakeWithPorts();
    await monitorFor(node);
    const now = Date.now();
    node.events.fsm.emit({
      type: "apply",
      op: "put",
      path: "docs/a.txt",
      origin: "node2",
      size: 3,
      hash: "h",
      index: 17,
      applyMs: 2,
      wrote: true,
      mtimeMs: now - 30,
    });
    node.events.fsm.emit({
      type: "conflict",
      path: "docs/a.txt",
      conflictPath: "docs/a.sync-conflict-20250101-000000-node3.txt",
      origin: "node3",
      size: 4,
      hash: "h2",
      index: 18,
      applyMs: 1,
    });
    node.events.fsm.emit({
      type: "skip",
      reason: "rejected",
      path: "f/g",
      origin: "node3",
      index: 19,
      applyMs: 0,
      detail: "f is a file",
    });
    const applied = node.lines.find((l) => l.msg === "applied")!;
    expect(applied.level).toBe("info");
    expect(applied.fields).toMatchObject({
      term: 3,
      index: 17,
      path: "docs/a.txt",
      op: "put",
      origin: "node2",
      size: 3,
    });
    expect(applied.fields.latencyMs as number).toBeGreaterThanOrEqual(30);
    const conflict = node.lines.find((l) => l.fields.event === "conflict")!;
    expect(conflict.fields).toMatchObject({
      term: 3,
      index: 18,
      path: "docs/a.txt",
      op: "put",
      conflictPath: "docs/a.sync-conflict-20250101-000000-node3.txt",
      latencyMs: null,
    });
    const rejected = node.lines.find((l) => l.fields.event === "rejected")!;
    expect(rejected.level).toBe("warn");
    expect(rejected.fields).toMatchObject({ index: 19, path: "f/g", detail: "f is a file" });
  });

  test('the original\'s periodic "Node metrics" line', async () => {
    const node = await fakeWithPorts();
    await monitorFor(node, { metricsLogMs: 20 });
    const line = await waitFor(
      "a Node metrics line",
      () => node.lines.find((l) => l.msg === "Node metrics"),
      5000,
    );
    expect(line.fields).toMatchObject({
      files_replicated: 0,
      state: "leader",
      leader: "node1",
      peers: 2,
      term: 3,
    });
    expect(line.fields.memory_mb as number).toBeGreaterThan(0);
  });
});
