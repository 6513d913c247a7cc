import { DashboardHost } from "./dashboard-host.ts";
import { DashboardHandler } from "./dashboard-server.ts";
import { logReplicationEvent } from "./event-logger.ts";
import { type HttpServer, handleMonitorRequest, type MonitorContext, serveHttp } from "./monitor-server.ts";
import type { MonitoredNode } from "./monitored-node.ts";
import { NodeMetrics } from "./node-metrics.ts";

export interface MonitoringOptions {
  now?: () => number;
  /** How often a node without the dashboard port tries to take it over (default 5 s; 0: never). */
  dashboardRetryMs?: number;
  /** The original's periodic "Node metrics" log line (default 30 s; 0: off). */
  metricsLogMs?: number;
}

export interface Monitoring {
  /** "host:port" of the monitor HTTP server, or null when its port could not be bound. */
  readonly monitorAddress: string | null;
  /** "host:port" while this node serves the dashboard. */
  dashboardAddress(): string | null;
  readonly metrics: NodeMetrics;
  close(): Promise<void>;
}

/**
 * Monitoring for one node: metrics fed by its event stream, one structured log line per replication
 * event, the monitor HTTP server on --monitor-port and (if this node gets the port first) the cluster
 * dashboard on --dashboard-port, both bound to the node's bind host. Failing to bind either port is
 * logged and does not stop the node: monitoring must never take file sync down.
 */
export async function startMonitoring(node: MonitoredNode, o: MonitoringOptions = {}): Promise<Monitoring> {
  const now = o.now ?? Date.now;
  const metrics = new NodeMetrics(node, now);
  const ctx: MonitorContext = { node, metrics, now };

  const unsubscribe = node.events.subscribe((e) => {
    const ev = metrics.handle(e);
    if (ev) logReplicationEvent(node.log, ev, node.raft.status().term);
  });
  const restorePropose = metrics.instrumentProposals();

  const host = node.options.bindHost;
  let monitor: HttpServer | null = null;
  try {
    monitor = serveHttp(
      host,
      node.options.monitorPort,
      (req) => handleMonitorRequest(ctx, req),
      (err) => node.log.warn({ err: String(err) }, "monitor request failed"),
    );
    node.log.info({ monitor: `http://${monitor.address}/` }, "monitor HTTP server listening");
  } catch (err) {
    node.log.error(
      { port: node.options.monitorPort, err: String(err) },
      "cannot serve the monitor port; the node runs without it",
    );
  }

  const dashboard = new DashboardHandler(ctx);
  const host8080 = new DashboardHost({
    host,
    port: node.options.dashboardPort,
    handle: (req) => dashboard.handle(req),
    log: node.log,
    retryMs: o.dashboardRetryMs ?? 5000,
  });
  host8080.start();

  const metricsLogMs = o.metricsLogMs ?? 30_000;
  const ticker =
    metricsLogMs > 0
      ? setInterval(() => {
          const s = node.statusSnapshot();
          const c = metrics.stats.counters();
          node.log.info(
            {
              files_replicated: c.filesReplicated,
              bytes_replicated: c.bytesReplicated,
              replication_errors: c.replicationErrors,
              state: s.role,
              term: s.term,
              leader: s.leader,
              peers: s.voters.length + s.learners.length - 1,
              memory_mb: Math.round(process.memoryUsage().rss / 1048576),
            },
            "Node metrics",
          );
        }, metricsLogMs)
      : null;
  ticker?.unref?.();

  let closed = false;
  return {
    monitorAddress: monitor?.address ?? null,
    dashboardAddress: () => host8080.address,
    metrics,
    async close() {
      if (closed) return;
      closed = true;
      if (ticker) clearInterval(ticker);
      unsubscribe();
      restorePropose();
      await Promise.all([monitor?.close(), host8080.close()]);
    },
  };
}
