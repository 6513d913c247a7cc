// The monitor HTTP port: the original's paths (any method, as it accepted) plus Prometheus text.
//   /metrics             → node metrics JSON (the original's keys, real values)
//   /metrics/prometheus  → Prometheus text exposition 0.0.4 (prom-client)
//   /health              → 200 always, cluster health JSON (peers is [] when alone, never null)
//   /ready               → 200 "ready" when a leader is known, else 503 "not ready"
//   /live                → 200 "alive"
//   / and anything else  → 200 {"node_id","service","state","uptime"}
import { legacyHealth, legacyMetrics, legacyRoot } from "./legacy-json.ts";
import type { MonitoredNode } from "./monitored-node.ts";
import type { NodeMetrics } from "./node-metrics.ts";

export interface MonitorContext {
  node: MonitoredNode;
  metrics: NodeMetrics;
  now: () => number;
}

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function textResponse(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

export function metricsBody(ctx: MonitorContext) {
  return legacyMetrics(
    ctx.node.statusSnapshot(),
    ctx.metrics.stats.counters(),
    ctx.now(),
    process.memoryUsage().rss,
  );
}

export function healthBody(ctx: MonitorContext) {
  return legacyHealth(ctx.node.statusSnapshot(), ctx.now());
}

export async function handleMonitorRequest(ctx: MonitorContext, req: Request): Promise<Response> {
  const { pathname } = new URL(req.url);
  switch (pathname) {
    case "/metrics":
      return jsonResponse(metricsBody(ctx));
    case "/metrics/prometheus":
      return new Response(await ctx.metrics.prometheus(), {
        headers: { "content-type": ctx.metrics.contentType, "cache-control": "no-store" },
      });
    case "/health":
      return jsonResponse(healthBody(ctx));
    case "/ready": {
      // Stricter than the original (which said ready for a follower with no leader): a node is ready
      // when it can get a change committed, i.e. it knows a leader.
      const s = ctx.node.statusSnapshot();
      return s.leader ? textResponse("ready") : textResponse("not ready", 503);
    }
    case "/live":
      return textResponse("alive");
    default:
      return jsonResponse(legacyRoot(ctx.node.statusSnapshot()));
  }
}

export interface HttpServer {
  /** "host:port" actually bound. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Bun.serve on host:port; throws (code EADDRINUSE when taken) if the port cannot be bound. */
export function serveHttp(
  host: string,
  port: number,
  handle: (req: Request) => Promise<Response> | Response,
  onError: (err: unknown) => void,
): HttpServer {
  const server = Bun.serve({
    hostname: host,
    port,
    // A monitoring page must not take the node down: every failure becomes a 500.
    fetch: async (req) => {
      try {
        return await handle(req);
      } catch (err) {
        onError(err);
        return textResponse("internal error", 500);
      }
    },
  });
  const bound = server.port ?? port;
  return {
    address: `${host.includes(":") ? `[${host}]` : host}:${bound}`,
    port: bound,
    close: async () => {
      await server.stop(true);
    },
  };
}
