import type { Socket } from "node:net";
import type { TransportHandler } from "../transport.ts";
import type { Message } from "../types.ts";
import { ChunkChannel } from "./chunk-channel.ts";
import { ConnectionLostError, errorMessage } from "./errors.ts";
import { encodeFrame, encodeFramePieces, FrameDecoder } from "./frame-codec.ts";
import { FrameQueue } from "./frame-queue.ts";
import { type Frame, PROTOCOL_VERSION } from "./frames.ts";
import { makeNonce, verifyHello } from "./handshake.ts";
import type { ResolvedTransportOptions } from "./options.ts";
import type { Traffic } from "./traffic.ts";

interface SnapshotReceipt {
  channel: ChunkChannel;
  /** The handler's verdict, once onSnapshot settled. */
  verdict: { ok: boolean; e?: string } | null;
  endReceived: boolean;
  acked: boolean;
}

/**
 * A connection a peer dialled to us: handshake (challenge, hello, welcome), then its messages go to the
 * handler, its requests are answered on this same connection, and a snapshot streamed on it is fed to
 * onSnapshot with the socket paused while the consumer lags. Any protocol violation drops only this
 * connection.
 */
export class InboundConnection {
  private readonly decoder: FrameDecoder;
  private readonly replies: FrameQueue;
  private readonly nonce = makeNonce();
  private peer: string | null = null;
  private snapshot: SnapshotReceipt | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null;

  constructor(
    private readonly socket: Socket,
    private readonly handler: TransportHandler,
    private readonly opts: ResolvedTransportOptions,
    private readonly onClosed: (conn: InboundConnection) => void,
    private readonly traffic: Traffic,
  ) {
    this.decoder = new FrameDecoder(opts.maxFrameBytes);
    // Replies are not dropped for overflow while the requester keeps reading; a requester that stops
    // reading is bounded by the same limits as our own peers.
    this.replies = new FrameQueue(
      { maxFrames: opts.maxQueuedFrames, maxBytes: opts.maxQueuedBytes },
      traffic,
    );
    socket.setNoDelay(true);
    socket.on("error", (err) => this.opts.log("debug", "inbound connection error", { err: err.message }));
    socket.on("close", () => this.closed());
    socket.on("data", (chunk: Uint8Array) => this.onData(chunk));
    this.helloTimer = setTimeout(() => this.drop("no hello in time"), opts.connectTimeoutMs);
    this.helloTimer.unref?.();
    socket.write(encodeFrame({ k: "challenge", nonce: this.nonce }));
  }

  /** Closes the connection now (transport shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  private get remote(): string {
    return this.peer ?? `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  private drop(reason: string): void {
    if (this.socket.destroyed) return;
    this.opts.log("warn", "dropping inbound connection", { remote: this.remote, reason });
    this.socket.destroy();
  }

  private closed(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.replies.detach();
    this.replies.clear("connection closed");
    this.snapshot?.channel.fail(new ConnectionLostError(`snapshot stream from ${this.remote} broke off`));
    this.onClosed(this);
  }

  private onData(chunk: Uint8Array): void {
    this.traffic.received += chunk.byteLength;
    this.decoder.push(chunk);
    try {
      for (let f = this.decoder.next(); f !== null && !this.socket.destroyed; f = this.decoder.next()) {
        this.onFrame(f);
      }
    } catch (err) {
      this.drop(errorMessage(err));
    }
  }

  private onFrame(f: Frame): void {
    if (this.peer === null) {
      this.onHello(f);
      return;
    }
    switch (f.k) {
      case "msg":
        this.deliver(f.m);
        return;
      case "req":
        this.answer(f.id, f.p);
        return;
      case "snapBegin":
        this.beginSnapshot(f.m);
        return;
      case "snapChunk":
        if (!this.snapshot || this.snapshot.endReceived) {
          this.drop("snapshot chunk outside a snapshot");
          return;
        }
        if (!this.snapshot.channel.push(f.d)) this.socket.pause();
        return;
      case "snapEnd":
        if (!this.snapshot || this.snapshot.endReceived) {
          this.drop("snapshot end outside a snapshot");
          return;
        }
        this.snapshot.endReceived = true;
        this.snapshot.channel.end();
        if (this.snapshot.verdict) this.ackSnapshot(this.snapshot);
        return;
      default:
        this.drop(`unexpected ${f.k} frame`);
    }
  }

  private onHello(f: Frame): void {
    if (f.k !== "hello") {
      this.drop(`expected hello, got ${f.k}`);
      return;
    }
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    const refuse = (reason: string) => {
      this.opts.log("warn", "refused peer connection", { remote: this.remote, addr: f.addr, reason });
      this.socket.end(encodeFrame({ k: "reject", reason }));
      this.socket.pause();
      // end() flushes the reject; if the peer never closes its side, do not wait for it.
      const t = setTimeout(() => this.socket.destroy(), 1000);
      t.unref?.();
    };
    if (f.v !== PROTOCOL_VERSION) {
      refuse(`protocol version ${f.v} not supported`);
      return;
    }
    if (!verifyHello(this.opts.secret, this.nonce, f.addr, f.mac)) {
      refuse("bad cluster secret");
      return;
    }
    this.peer = f.addr || `${this.socket.remoteAddress}:${this.socket.remotePort}`;
    this.replies.attach(this.socket);
    this.replies.push({ bytes: encodeFrame({ k: "welcome" }) });
  }

  private deliver(m: Message): void {
    try {
      this.handler.onMessage(m, this.peer ?? undefined);
    } catch (err) {
      this.opts.log("error", "onMessage threw", { from: this.remote, type: m.type, err: errorMessage(err) });
    }
  }

  private answer(id: number, payload: unknown): void {
    Promise.resolve()
      .then(() => this.handler.onRequest(payload))
      .then(
        (v) => this.reply(id, true, v),
        (err) => this.reply(id, false, undefined, errorMessage(err)),
      );
  }

  private reply(id: number, ok: boolean, v: unknown, e?: string): void {
    if (this.socket.destroyed) return;
    let bytes: Uint8Array | Uint8Array[];
    try {
      // Pieces: a reply carrying chunks (getChunks) goes out without copying them into the frame.
      bytes = ok
        ? encodeFramePieces({ k: "res", id, ok: true, v })
        : encodeFrame({ k: "res", id, ok: false, e: e ?? "" });
    } catch (err) {
      bytes = encodeFrame({ k: "res", id, ok: false, e: `response not encodable: ${errorMessage(err)}` });
    }
    this.replies.push({ bytes });
  }

  private beginSnapshot(m: Message): void {
    if (this.snapshot) {
      this.drop("second snapshot on one connection");
      return;
    }
    const channel = new ChunkChannel(this.opts.snapshotBufferBytes, () => {
      if (!this.socket.destroyed) this.socket.resume();
    });
    const receipt: SnapshotReceipt = { channel, verdict: null, endReceived: false, acked: false };
    this.snapshot = receipt;
    Promise.resolve()
      .then(() => this.handler.onSnapshot(m, channel))
      .then(
        () => this.snapshotSettled(receipt, { ok: true }),
        (err) => this.snapshotSettled(receipt, { ok: false, e: errorMessage(err) }),
      );
  }

  /**
   * A success is acked once the whole stream has arrived; a failure at once (the sender stops when it
   * reads it). Either way, data the handler no longer reads is discarded, not buffered.
   */
  private snapshotSettled(receipt: SnapshotReceipt, verdict: { ok: boolean; e?: string }): void {
    receipt.verdict = verdict;
    if (receipt.endReceived || !verdict.ok) {
      this.ackSnapshot(receipt);
    }
    if (!receipt.endReceived) {
      receipt.channel.discard();
      if (!this.socket.destroyed) this.socket.resume();
    }
  }

  private ackSnapshot(receipt: SnapshotReceipt): void {
    if (receipt.acked || !receipt.verdict || this.socket.destroyed) return;
    receipt.acked = true;
    this.replies.push({ bytes: encodeFrame({ k: "snapAck", ...receipt.verdict }) });
  }
}
