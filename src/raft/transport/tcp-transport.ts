import { createServer, type Server, type Socket } from "node:net";
import type { Transport, TransportHandler } from "../transport.ts";
import type { Message } from "../types.ts";
import { errorMessage, TransportClosedError } from "./errors.ts";
import { encodeFrame, encodeFramePieces } from "./frame-codec.ts";
import { InboundConnection } from "./inbound-connection.ts";
import {
  formatAddress,
  type ResolvedTransportOptions,
  resolveOptions,
  type TcpTransportOptions,
} from "./options.ts";
import { OutboundPeer } from "./outbound-peer.ts";
import { type SnapshotTransfer, streamSnapshot } from "./snapshot-sender.ts";
import { Traffic } from "./traffic.ts";

/**
 * Transport over node:net (Bun.listen does not buffer partial writes) with length-prefixed msgpack
 * frames; see frames.ts for the protocol and frame-codec.ts for the wire format.
 *
 * - One persistent outbound connection per peer address, dialled on first use, re-dialled with backoff;
 *   messages to a peer keep their order, and are dropped (oldest first, bounded queue) while it is
 *   unreachable. send() never throws.
 * - Requests travel on that connection; the answer comes back on it.
 * - Each snapshot streams on a connection of its own with end-to-end backpressure.
 * - With a secret, only dialers that prove knowledge of it (HMAC over a per-connection nonce) are heard.
 */
export class TcpTransport implements Transport {
  private readonly opts: ResolvedTransportOptions;
  private server: Server | null = null;
  private boundAddress: string | null = null;
  private readonly peers = new Map<string, OutboundPeer>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly transfers = new Set<SnapshotTransfer>();
  private nextRequestId = 1;
  private closed = false;
  /** Bytes moved over every connection, since the transport started. */
  private readonly traffic = new Traffic();

  constructor(options: TcpTransportOptions = {}) {
    this.opts = resolveOptions(options);
  }

  /** The address we tell peers to dial back (hello), once listening. */
  get address(): string | null {
    return this.opts.advertiseAddress ?? this.boundAddress;
  }

  /** Counters for metrics and tests. */
  stats(): {
    peers: number;
    connectedPeers: number;
    inbound: number;
    droppedFrames: number;
    bytesReceived: number;
    bytesSent: number;
  } {
    let connectedPeers = 0;
    let droppedFrames = 0;
    for (const p of this.peers.values()) {
      if (p.connected) connectedPeers++;
      droppedFrames += p.droppedFrames;
    }
    return {
      peers: this.peers.size,
      connectedPeers,
      inbound: this.inbound.size,
      droppedFrames,
      bytesReceived: this.traffic.received,
      bytesSent: this.traffic.sent,
    };
  }

  listen(handler: TransportHandler): Promise<string> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    if (this.server) return Promise.reject(new Error("already listening"));
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket, handler));
      this.server = server;
      server.once("error", reject);
      server.listen(this.opts.bindPort, this.opts.bindHost, () => {
        server.off("error", reject);
        server.on("error", (err) => this.opts.log("error", "transport listener error", { err: err.message }));
        const a = server.address();
        if (a === null || typeof a === "string") {
          reject(new Error("listener has no TCP address"));
          return;
        }
        this.boundAddress = formatAddress(a.address, a.port);
        this.opts.log("info", "transport listening", { address: this.boundAddress });
        resolve(this.boundAddress);
      });
    });
  }

  send(address: string, message: Message): void {
    if (this.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame({ k: "msg", m: message });
    } catch (err) {
      this.opts.log("error", "message not encodable; dropped", { peer: address, err: errorMessage(err) });
      return;
    }
    this.peer(address).send(bytes);
  }

  sendSnapshot(address: string, message: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    return streamSnapshot(this.opts, this.self(), address, message, data, (t) => {
      this.transfers.add(t);
      return () => this.transfers.delete(t);
    });
  }

  request(address: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    const id = this.nextRequestId++;
    let bytes: Uint8Array[];
    try {
      bytes = encodeFramePieces({ k: "req", id, p: payload });
    } catch (err) {
      return Promise.reject(new Error(`request not encodable: ${errorMessage(err)}`));
    }
    const timeout = timeoutMs > 0 ? timeoutMs : this.opts.requestTimeoutMs;
    return this.peer(address).request(id, bytes, timeout);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const server = this.server;
    const serverClosed = server
      ? new Promise<void>((resolve) => {
          server.close(() => resolve());
        })
      : Promise.resolve();
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    for (const t of [...this.transfers]) t.abort(new TransportClosedError());
    for (const c of [...this.inbound]) c.destroy();
    await serverClosed;
  }

  private self(): string {
    return this.address ?? "";
  }

  private peer(address: string): OutboundPeer {
    let p = this.peers.get(address);
    if (!p) {
      p = new OutboundPeer(address, this.opts, () => this.self(), this.traffic);
      this.peers.set(address, p);
    }
    return p;
  }

  private accept(socket: Socket, handler: TransportHandler): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const conn = new InboundConnection(
      socket,
      handler,
      this.opts,
      (c) => this.inbound.delete(c),
      this.traffic,
    );
    this.inbound.add(conn);
  }
}
