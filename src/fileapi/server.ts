// The file API server on the client port (raft port − 1000 by default): many connections, each with its
// own handles, many requests per connection. See protocol.md for the wire format and every verb.
import { mkdirSync } from "node:fs";
import net from "node:net";
import type { FileApiBackend } from "./backend.ts";
import { CommitBatcher, OutcomeTracker } from "./commit.ts";
import { Connection } from "./connection.ts";
import { FileApiError } from "./errors.ts";
import { DEFAULT_LIMITS, type FileApiLimits } from "./limits.ts";
import { Session, type SessionContext } from "./session.ts";
import { ChunkOffsetCache } from "./version-reader.ts";

export interface FileApiServerOptions {
  /** Interface to bind (127.0.0.1 by default). */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  limits?: Partial<FileApiLimits>;
  /** Wall clock for the mtime of committed versions (Date.now by default). */
  now?: () => number;
}

export class FileApiServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly ctx: SessionContext;
  readonly limits: FileApiLimits;
  private boundAddress = "";
  private closing = false;

  constructor(
    private readonly backend: FileApiBackend,
    private readonly options: FileApiServerOptions = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    const now = options.now ?? Date.now;
    // Unique per process for every proposed command, so that identical writes still differ as entries.
    let seq = now() * 1000;
    const tracker = new OutcomeTracker(backend);
    this.ctx = {
      backend,
      limits: this.limits,
      tracker,
      batcher: new CommitBatcher(backend, tracker),
      offsets: new ChunkOffsetCache(),
      now,
      nextSeq: () => ++seq,
    };
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** "host:port" once listening. */
  get address(): string {
    return this.boundAddress;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo | null)?.port ?? 0;
  }

  get connections(): number {
    return this.sockets.size;
  }

  async listen(): Promise<string> {
    mkdirSync(this.backend.spoolDir, { recursive: true, mode: 0o700 });
    const host = this.options.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const a = this.server.address() as net.AddressInfo;
    this.boundAddress = `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
    return this.boundAddress;
  }

  /** Stops accepting, closes every connection (their uncommitted handles are discarded). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    this.ctx.tracker.close();
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.sockets.size >= this.limits.maxConnections) {
      Connection.refuse(
        socket,
        new FileApiError("ELIMIT", `too many connections (limit ${this.limits.maxConnections})`),
      );
      return;
    }
    this.sockets.add(socket);
    new Connection(socket, new Session(this.ctx), this.limits, () => this.sockets.delete(socket));
  }
}

/** Creates the server and starts listening; resolves once the port is bound. */
export async function startFileApi(
  backend: FileApiBackend,
  options: FileApiServerOptions = {},
): Promise<FileApiServer> {
  const server = new FileApiServer(backend, options);
  await server.listen();
  return server;
}
