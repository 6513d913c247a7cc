// The web dashboard (one per host, default port 8080): the whole cluster, live.
//   /                        → the page (any unmatched path too, as the original)
//   /api/metrics             → same JSON as the monitor's /metrics
//   /api/health              → same JSON as the monitor's /health
//   /api/cluster             → {health, metrics, summary} as the original, plus members, events,
//                              conflicts, latency, served_by, generated_at
//   /static/dashboard.css|js → the page's assets; other /static/… → 404
import { clusterView, type MemberView } from "./cluster-view.ts";
import { dashboardPage } from "./dashboard-page.ts";
import { DASHBOARD_SCRIPT } from "./dashboard-script.ts";
import { DASHBOARD_STYLE } from "./dashboard-style.ts";
import { formatRfc3339 } from "./go-format.ts";
import { clusterSummary, legacyHealth, legacyMetrics } from "./legacy-json.ts";
import { healthBody, type MonitorContext, metricsBody } from "./monitor-server.ts";
import type { ClusterMemberStatus } from "./monitored-node.ts";
import { type LatencySample, quantile, type ReplicationEvent } from "./replication-stats.ts";

/** Data never becomes markup in the page (textContent only); CSP forbids inline script as a second wall. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

export interface ClusterPayload {
  health: ReturnType<typeof legacyHealth>;
  metrics: ReturnType<typeof legacyMetrics>;
  summary: Record<string, number | string>;
  members: MemberView[];
  /** Newest first. */
  events: ReplicationEvent[];
  /** Newest first. */
  conflicts: ReplicationEvent[];
  latency: {
    /** Oldest first, for the chart. */
    samples: { at: number; ms: number }[];
    p50: number | null;
    p95: number | null;
    p99: number | null;
    count: number;
  };
  served_by: string;
  generated_at: string;
}

export class DashboardHandler {
  private inflight: Promise<ClusterMemberStatus[]> | null = null;

  constructor(private readonly ctx: MonitorContext) {}

  async handle(req: Request): Promise<Response> {
    const { pathname } = new URL(req.url);
    switch (pathname) {
      case "/api/metrics":
        return json(metricsBody(this.ctx));
      case "/api/health":
        return json(healthBody(this.ctx));
      case "/api/cluster":
        return json(await this.cluster());
      case "/static/dashboard.css":
        return asset(DASHBOARD_STYLE, "text/css; charset=utf-8");
      case "/static/dashboard.js":
        return asset(DASHBOARD_SCRIPT, "text/javascript; charset=utf-8");
    }
    if (pathname.startsWith("/static/"))
      return new Response("not found\n", { status: 404, headers: SECURITY_HEADERS });
    const html = dashboardPage(this.ctx.node.options.nodeId, this.ctx.now());
    return new Response(html, {
      headers: { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8" },
    });
  }

  async cluster(): Promise<ClusterPayload> {
    const { node, metrics, now } = this.ctx;
    // Several open tabs share one round of status requests.
    this.inflight ??= node.clusterStatus().finally(() => {
      this.inflight = null;
    });
    const members = await this.inflight;
    const s = node.statusSnapshot();
    const counters = metrics.stats.counters();
    const t = now();
    const samples: LatencySample[] = metrics.stats.latencySamples().slice(-120);
    const ms = samples.map((x) => x.ms);
    return {
      health: legacyHealth(s, t),
      metrics: legacyMetrics(s, counters, t, process.memoryUsage().rss),
      summary: clusterSummary(s, counters, members.length),
      members: clusterView(members, node.tickMs),
      events: metrics.stats.recentEvents().slice(-50).reverse(),
      conflicts: metrics.stats.recentConflicts().slice(-20).reverse(),
      latency: {
        samples: samples.map((x) => ({ at: x.at, ms: Math.round(x.ms * 1000) / 1000 })),
        p50: quantile(ms, 0.5),
        p95: quantile(ms, 0.95),
        p99: quantile(ms, 0.99),
        count: ms.length,
      },
      served_by: s.node,
      generated_at: formatRfc3339(t, { fraction: true }),
    };
  }
}

function json(body: unknown): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    headers: { ...SECURITY_HEADERS, "content-type": "application/json" },
  });
}

function asset(body: string, type: string): Response {
  return new Response(body, { headers: { ...SECURITY_HEADERS, "content-type": type } });
}
