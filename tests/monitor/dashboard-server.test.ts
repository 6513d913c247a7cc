import { afterEach, describe, expect, test } from "bun:test";
import { escapeHtml } from "../../src/monitor/dashboard-page.ts";
import { DASHBOARD_SCRIPT } from "../../src/monitor/dashboard-script.ts";
import { DashboardHandler } from "../../src/monitor/dashboard-server.ts";
import { NodeMetrics } from "../../src/monitor/node-metrics.ts";
import { type Monitoring, startMonitoring } from "../../src/monitor/start-monitoring.ts";
import { freePorts, waitFor } from "../integration/helpers/cluster.ts";
import { baseStatus, FakeNode } from "./fake-node.ts";
import { getJson } from "./http.ts";

const started: Monitoring[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.close();
});

async function dashboardFor(nodeId = "node1", dashboardPort?: number, retryMs = 0) {
  const port = dashboardPort ?? (await freePorts(1))[0]!;
  const node = new FakeNode({ nodeId, bindHost: "127.0.0.1", monitorPort: 0, dashboardPort: port });
  node.status = baseStatus({ node: nodeId });
  const m = await startMonitoring(node, { metricsLogMs: 0, dashboardRetryMs: retryMs });
  started.push(m);
  return { node, m, url: (p: string) => `http://127.0.0.1:${port}${p}`, port };
}

describe("dashboard HTTP server", () => {
  test("/ (and any unmatched path) is the page, with the original's title and the serving node", async () => {
    const { url } = await dashboardFor();
    for (const p of ["/", "/whatever"]) {
      const r = await fetch(url(p));
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const html = await r.text();
      expect(html).toContain("<title>Pickbox Distributed Storage - Dashboard</title>");
      expect(html).toContain('Node: <span id="served-by">node1</span>');
      expect(html).toMatch(/rendered \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      // No inline script anywhere: the CSP below forbids it.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    }
  });

  test("every response carries a CSP without inline script, nosniff and no framing", async () => {
    const { url } = await dashboardFor();
    for (const p of ["/", "/api/cluster", "/static/dashboard.js"]) {
      const h = (await fetch(url(p))).headers;
      expect(h.get("content-security-policy")).toContain("script-src 'self'");
      expect(h.get("content-security-policy")).not.toContain("unsafe-inline");
      expect(h.get("x-content-type-options")).toBe("nosniff");
      expect(h.get("x-frame-options")).toBe("DENY");
    }
  });

  test("/static/dashboard.css and .js are served; other /static paths are 404", async () => {
    const { url } = await dashboardFor();
    let r = await fetch(url("/static/dashboard.css"));
    expect([r.status, r.headers.get("content-type")]).toEqual([200, "text/css; charset=utf-8"]);
    expect(await r.text()).toContain(".card");
    r = await fetch(url("/static/dashboard.js"));
    expect([r.status, r.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    expect(await r.text()).toBe(DASHBOARD_SCRIPT);
    expect((await fetch(url("/static/other.js"))).status).toBe(404);
    expect((await fetch(url("/static/../etc/passwd"))).status).toBe(200); // normalised to "/etc/passwd": the page
  });

  test("/api/metrics and /api/health are the monitor's bodies", async () => {
    const { url, m } = await dashboardFor();
    const strip = (o: Record<string, unknown>) => {
      const { timestamp, memory_usage_bytes, uptime, ...rest } = o;
      return rest;
    };
    const a = await getJson(url("/api/metrics"));
    const b = await getJson(`http://${m.monitorAddress}/metrics`);
    expect(strip(a)).toEqual(strip(b));
    expect(Object.keys(a)).toEqual(Object.keys(b));
    const h1 = await getJson(url("/api/health"));
    const h2 = await getJson(`http://${m.monitorAddress}/health`);
    expect(strip(h1)).toEqual(strip(h2));
  });

  test("/api/cluster: the original's health/metrics/summary plus every member, events, conflicts, latency", async () => {
    const { url, node } = await dashboardFor();
    node.events.fsm.emit({
      type: "apply",
      op: "put",
      path: "a.txt",
      origin: "node2",
      size: 5,
      hash: "h",
      index: 9,
      applyMs: 1,
      wrote: true,
      mtimeMs: Date.now() - 12,
    });
    node.events.fsm.emit({
      type: "conflict",
      path: "a.txt",
      conflictPath: "a.sync-conflict-x.txt",
      origin: "node3",
      size: 6,
      hash: "h",
      index: 10,
      applyMs: 1,
    });
    const body = await getJson(url("/api/cluster"));
    expect(Object.keys(body).sort()).toEqual(
      [
        "conflicts",
        "events",
        "generated_at",
        "health",
        "latency",
        "members",
        "metrics",
        "served_by",
        "summary",
      ].sort(),
    );
    expect(body.summary).toMatchObject({ total_nodes: 3, current_state: "Leader", files_tracked: 7 });
    expect(body.health.node_id).toBe("node1");
    expect(body.metrics.files_replicated).toBe(2);
    // node2 and node3 do not answer the fake: they show as down, with the error.
    expect(body.members.map((x: { id: string; up: boolean }) => [x.id, x.up])).toEqual([
      ["node1", true],
      ["node2", false],
      ["node3", false],
    ]);
    expect(body.members[1].error).toBe("connect ECONNREFUSED");
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(["conflict", "apply"]);
    expect(body.conflicts).toHaveLength(1);
    expect(body.latency.count).toBe(1);
    expect(body.latency.p50).toBeGreaterThanOrEqual(12);
    expect(body.served_by).toBe("node1");
  });

  test("concurrent /api/cluster requests share one round of member status requests", async () => {
    const node = new FakeNode();
    const handler = new DashboardHandler({ node, metrics: new NodeMetrics(node), now: Date.now });
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    node.clusterStatus = async () => {
      calls++;
      await gate;
      return [];
    };
    const pending = [handler.cluster(), handler.cluster(), handler.cluster()];
    release();
    await Promise.all(pending);
    expect(calls).toBe(1);
    // Once answered, the next request asks again (no stale cache).
    await handler.cluster();
    expect(calls).toBe(2);
  });
});

describe("one dashboard per host", () => {
  test("the second node finds the port taken, logs it at info level, carries on, and takes over later", async () => {
    const first = await dashboardFor("node1");
    const second = await dashboardFor("node2", first.port, 50);
    expect(first.m.dashboardAddress()).toBe(`127.0.0.1:${first.port}`);
    expect(second.m.dashboardAddress()).toBeNull();
    const note = second.node.lines.find((l) => l.msg.includes("dashboard port already in use"));
    expect(note?.level).toBe("info");
    expect(second.node.lines.some((l) => l.level === "error" || l.level === "warn")).toBe(false);
    // Its monitor port works all the same.
    expect((await fetch(`http://${second.m.monitorAddress}/live`)).status).toBe(200);
    expect((await getJson(first.url("/api/health"))).node_id).toBe("node1");

    await first.m.close();
    await waitFor("node2 to take the dashboard over", () => second.m.dashboardAddress(), 10_000);
    expect((await getJson(first.url("/api/health"))).node_id).toBe("node2");
    expect(second.node.lines.some((l) => l.msg === "took over the cluster dashboard")).toBe(true);
  });
});

describe("page assets", () => {
  test("the client script is valid JavaScript and never uses innerHTML or other HTML sinks", () => {
    expect(() => new Function(DASHBOARD_SCRIPT)).not.toThrow();
    expect(DASHBOARD_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect(DASHBOARD_SCRIPT).toContain("textContent");
  });

  test("escapeHtml covers text and attribute contexts", () => {
    expect(escapeHtml(`<img src=x onerror="alert('1')">&`)).toBe(
      "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;",
    );
  });
});
