import { type HttpServer, serveHttp } from "./monitor-server.ts";
import type { MonitoredNode } from "./monitored-node.ts";

export interface DashboardHostOptions {
  host: string;
  port: number;
  handle: (req: Request) => Promise<Response>;
  log: MonitoredNode["log"];
  /** While another node holds the port, try to take it over this often (it may stop). 0: never. */
  retryMs: number;
}

/**
 * One dashboard per host: the first node to bind the port serves the whole cluster. The others log it
 * at info level, carry on, and retry now and then, so the dashboard comes back on another node when
 * the one serving it stops.
 */
export class DashboardHost {
  private server: HttpServer | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly o: DashboardHostOptions) {}

  /** Binds now if the port is free; never throws for a taken port. */
  start(): void {
    this.tryBind(true);
  }

  /** "host:port" while this node serves the dashboard, else null. */
  get address(): string | null {
    return this.server?.address ?? null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = this.server;
    this.server = null;
    await s?.close();
  }

  private tryBind(first: boolean): void {
    if (this.closed) return;
    try {
      this.server = serveHttp(this.o.host, this.o.port, this.o.handle, (err) =>
        this.o.log.warn({ err: String(err) }, "dashboard request failed"),
      );
      this.o.log.info(
        { dashboard: `http://${this.server.address}/` },
        first ? "serving the cluster dashboard" : "took over the cluster dashboard",
      );
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "EADDRINUSE") {
        if (first)
          this.o.log.info(
            { port: this.o.port },
            "dashboard port already in use (another node on this host serves the dashboard)",
          );
      } else {
        this.o.log.warn({ port: this.o.port, err: String(err) }, "cannot serve the dashboard");
      }
      if (this.o.retryMs > 0) {
        this.timer = setTimeout(() => this.tryBind(false), this.o.retryMs);
        this.timer.unref?.();
      }
    }
  }
}
