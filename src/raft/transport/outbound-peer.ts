import type { Socket } from "node:net";
import { dial } from "./dial.ts";
import {
  ConnectionLostError,
  errorMessage,
  RemoteError,
  TransportClosedError,
  TransportTimeoutError,
} from "./errors.ts";
import type { FrameDecoder } from "./frame-codec.ts";
import { FrameQueue, type QueuedFrame } from "./frame-queue.ts";
import type { Frame } from "./frames.ts";
import type { ResolvedTransportOptions } from "./options.ts";
import type { Traffic } from "./traffic.ts";

type PeerState = "idle" | "connecting" | "open" | "backoff" | "closed";

interface PendingRequest {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  frame: QueuedFrame;
}

/**
 * Our one persistent connection to a peer address: dialled lazily on first use, re-dialled with
 * exponential backoff after a failure, carrying messages and requests in order. Responses to our
 * requests come back on it.
 */
export class OutboundPeer {
  private state: PeerState = "idle";
  private socket: Socket | null = null;
  private readonly queue: FrameQueue;
  private readonly pending = new Map<number, PendingRequest>();
  private failures = 0;
  private droppedWhileDown = 0;
  private backoffTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly address: string,
    private readonly opts: ResolvedTransportOptions,
    private readonly self: () => string,
    private readonly traffic: Traffic,
  ) {
    this.queue = new FrameQueue({ maxFrames: opts.maxQueuedFrames, maxBytes: opts.maxQueuedBytes }, traffic);
  }

  /** Frames dropped because the queue overflowed while the peer was unreachable or slow. */
  get droppedFrames(): number {
    return this.queue.dropped + this.droppedWhileDown;
  }

  get connected(): boolean {
    return this.state === "open";
  }

  send(bytes: Uint8Array): void {
    if (this.state === "closed") return;
    // While backing off from a failed peer, messages are dropped, not hoarded: Raft resends what is
    // still needed once the peer answers, and a long outage must not replay minutes of stale traffic.
    if (this.state === "backoff") {
      this.droppedWhileDown++;
      return;
    }
    this.queue.push({ bytes });
    if (this.state === "idle") this.connect();
  }

  request(id: number, bytes: Uint8Array | Uint8Array[], timeoutMs: number): Promise<unknown> {
    if (this.state === "closed") return Promise.reject(new TransportClosedError());
    return new Promise((resolve, reject) => {
      const frame: QueuedFrame = {
        bytes,
        onDrop: (reason) =>
          this.settle(id, new ConnectionLostError(`request to ${this.address} dropped: ${reason}`)),
      };
      const timer = setTimeout(
        () =>
          this.settle(
            id,
            new TransportTimeoutError(`request to ${this.address} timed out after ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      timer.unref?.();
      this.pending.set(id, { resolve, reject, timer, frame });
      this.queue.push(frame);
      if (this.state === "idle") this.connect();
    });
  }

  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    this.rejectAll(() => new TransportClosedError());
    this.queue.detach();
    this.queue.clear("transport closed");
    this.socket?.destroy();
    this.socket = null;
  }

  private settle(id: number, err: Error | null, value?: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.frame.cancelled = true;
    if (err) p.reject(err);
    else p.resolve(value);
  }

  private rejectAll(makeError: () => Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, makeError());
  }

  private connect(): void {
    this.state = "connecting";
    const { address } = this;
    dial(
      {
        address,
        self: this.self(),
        secret: this.opts.secret,
        connectTimeoutMs: this.opts.connectTimeoutMs,
        maxFrameBytes: this.opts.maxFrameBytes,
      },
      // Held so close() can abort a dial in progress instead of waiting for its timeout.
      (s) => {
        this.socket = s;
      },
    ).then(
      ({ socket, decoder }) => {
        if (this.state !== "connecting") {
          socket.destroy();
          return;
        }
        this.opened(socket, decoder);
      },
      (err: Error) => {
        if (this.state !== "connecting") return;
        this.socket = null;
        this.failed(err);
      },
    );
  }

  private opened(socket: Socket, decoder: FrameDecoder): void {
    this.state = "open";
    this.socket = socket;
    const { address } = this;
    let closeReason: Error | null = null;
    const drop = (err: Error) => {
      closeReason ??= err;
      socket.destroy();
    };
    socket.on("error", (err) => {
      closeReason ??= err;
    });
    socket.on("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.queue.detach();
      this.failed(closeReason ?? new ConnectionLostError(`connection to ${address} closed`));
    });
    const drain = () => {
      try {
        for (let f = decoder.next(); f !== null && !socket.destroyed; f = decoder.next())
          this.onFrame(f, drop);
      } catch (err) {
        this.opts.log("warn", "bad frame from peer; dropping connection", {
          peer: address,
          err: errorMessage(err),
        });
        drop(err instanceof Error ? err : new Error(errorMessage(err)));
      }
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.traffic.received += chunk.byteLength;
      decoder.push(chunk);
      drain();
    });
    drain();
    if (socket.destroyed) return;
    socket.resume();
    this.queue.attach(socket);
  }

  private onFrame(f: Frame, drop: (err: Error) => void): void {
    switch (f.k) {
      case "welcome":
        if (this.failures > 0) this.opts.log("info", "peer connection restored", { peer: this.address });
        this.failures = 0;
        return;
      case "reject":
        this.opts.log("warn", "peer refused our connection", { peer: this.address, reason: f.reason });
        drop(new ConnectionLostError(`${this.address} refused the connection: ${f.reason}`));
        return;
      case "res":
        if (f.ok) this.settle(f.id, null, f.v);
        else this.settle(f.id, new RemoteError(f.e ?? "remote error"));
        return;
      default:
        drop(new ConnectionLostError(`${this.address} sent an unexpected ${f.k} frame`));
    }
  }

  /** A dial failed or an open connection dropped: fail what waited on it, retry after a backoff. */
  private failed(err: Error): void {
    if (this.state === "closed") return;
    this.failures++;
    const delay = Math.min(
      this.opts.backoffMaxMs,
      this.opts.backoffInitialMs * 2 ** Math.min(this.failures - 1, 30),
    );
    this.opts.log(this.failures === 1 ? "warn" : "debug", "peer connection failed", {
      peer: this.address,
      err: err.message,
      failures: this.failures,
      retryInMs: delay,
    });
    // Requests fail fast so callers can go elsewhere; queued messages are dropped (Raft retries).
    const lost =
      err instanceof ConnectionLostError ? err : new ConnectionLostError(`${this.address}: ${err.message}`);
    this.rejectAll(() => lost);
    this.queue.clear("peer unreachable");
    this.state = "backoff";
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      if (this.state !== "backoff") return;
      this.state = "idle"; // the next message dials again
    }, delay);
    this.backoffTimer.unref?.();
  }
}
