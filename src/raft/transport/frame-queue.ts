import type { Socket } from "node:net";
import { BULK_PIECE_BYTES } from "./frame-codec.ts";
import type { Traffic } from "./traffic.ts";

/** An encoded frame (header included) waiting to be written: whole, or pieces written back to back. */
export interface QueuedFrame {
  bytes: Uint8Array | Uint8Array[];
  /** Set by the owner when the frame is no longer wanted (e.g. its request timed out). */
  cancelled?: boolean;
  /** Called when the queue drops the frame unsent. */
  onDrop?: (reason: string) => void;
}

export interface FrameQueueLimits {
  /** Frames kept while the socket cannot take more; the oldest are dropped beyond this. */
  maxFrames: number;
  maxBytes: number;
  /** Upper bound of one coalesced socket write (a single larger frame is written alone). */
  maxBatchBytes?: number;
}

const DEFAULT_BATCH_BYTES = 256 * 1024;

function sizeOf(f: QueuedFrame): number {
  if (f.bytes instanceof Uint8Array) return f.bytes.byteLength;
  let n = 0;
  for (const b of f.bytes) n += b.byteLength;
  return n;
}

/**
 * Outgoing frames of one connection, in order. Frames pushed during one turn of the event loop are
 * coalesced into few large socket writes (one syscall for thousands of small Raft messages). Respects
 * backpressure: after write() returns false nothing more is written until 'drain'. While the socket is
 * missing (connecting) or full, the queue is bounded and drops its oldest frames: Raft retransmits.
 */
export class FrameQueue {
  private frames: QueuedFrame[] = [];
  private head = 0;
  private queuedBytes = 0;
  private socket: Socket | null = null;
  private awaitingDrain = false;
  private flushScheduled = false;
  /** Socket writes of frames already taken off the queue, not yet handed over (a full socket stopped
   * them; handing a large piece to a full socket makes the runtime copy it). */
  private writes: Uint8Array[] = [];
  private writesAt = 0;
  private readonly maxBatchBytes: number;
  private readonly onDrain = () => {
    this.awaitingDrain = false;
    this.flush();
  };
  /** Frames dropped for overflow since creation. */
  dropped = 0;

  /** `traffic`: where the bytes written are counted (the transport's totals). */
  constructor(
    private readonly limits: FrameQueueLimits,
    private readonly traffic?: Traffic,
  ) {
    this.maxBatchBytes = limits.maxBatchBytes ?? DEFAULT_BATCH_BYTES;
  }

  get length(): number {
    return this.frames.length - this.head;
  }

  get bytes(): number {
    return this.queuedBytes;
  }

  /** Starts writing to `socket` (after its handshake). */
  attach(socket: Socket): void {
    this.detach();
    this.socket = socket;
    this.awaitingDrain = false;
    this.scheduleFlush();
  }

  /**
   * Stops writing (socket gone); queued frames stay for the next socket. The rest of a frame that was
   * half written is dropped: a new connection must start at a frame boundary (its owner hears of the
   * lost connection anyway).
   */
  detach(): void {
    if (this.socket) this.socket.off("drain", this.onDrain);
    this.socket = null;
    this.awaitingDrain = false;
    this.writes = [];
    this.writesAt = 0;
  }

  push(frame: QueuedFrame): void {
    this.frames.push(frame);
    this.queuedBytes += sizeOf(frame);
    if (this.canWrite()) {
      this.scheduleFlush();
    } else {
      this.enforceLimits();
    }
  }

  /** Drops every queued frame (e.g. on close), telling their owners. */
  clear(reason: string): void {
    const frames = this.frames.slice(this.head);
    this.frames = [];
    this.head = 0;
    this.queuedBytes = 0;
    for (const f of frames) if (!f.cancelled) f.onDrop?.(reason);
  }

  private canWrite(): boolean {
    return this.socket !== null && !this.awaitingDrain && !this.socket.destroyed;
  }

  private enforceLimits(): void {
    while (
      this.length > 1 &&
      (this.length > this.limits.maxFrames || this.queuedBytes > this.limits.maxBytes)
    ) {
      const f = this.shift()!;
      this.dropped++;
      if (!f.cancelled) f.onDrop?.("send queue overflow");
    }
  }

  private shift(): QueuedFrame | undefined {
    if (this.head >= this.frames.length) return undefined;
    const f = this.frames[this.head]!;
    this.frames[this.head] = undefined as unknown as QueuedFrame;
    this.head++;
    this.queuedBytes -= sizeOf(f);
    if (this.head === this.frames.length) {
      this.frames = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
    return f;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: frames pushed across awaits within the same turn join the batch.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Writes as much as the socket accepts now. Frames are taken in batches: small pieces coalesced into
   * one write, large pieces written as they are (never copied), each only while the socket has room.
   */
  flush(): void {
    while (this.canWrite()) {
      if (this.writesAt === this.writes.length && !this.takeBatch()) break;
      const socket = this.socket!;
      const piece = this.writes[this.writesAt++]!;
      if (this.traffic) this.traffic.sent += piece.byteLength;
      if (!socket.write(piece)) {
        this.awaitingDrain = true;
        socket.once("drain", this.onDrain);
      }
    }
  }

  /** Moves the next batch of frames into `writes`; false when nothing is queued. */
  private takeBatch(): boolean {
    this.writes = [];
    this.writesAt = 0;
    let run: Uint8Array[] = [];
    let runBytes = 0;
    const endRun = () => {
      if (run.length > 0) this.writes.push(run.length === 1 ? run[0]! : concat(run, runBytes));
      run = [];
      runBytes = 0;
    };
    let total = 0;
    while (this.length > 0) {
      const next = this.frames[this.head]!;
      const size = sizeOf(next);
      if (total > 0 && total + size > this.maxBatchBytes) break;
      this.shift();
      if (next.cancelled) continue;
      total += size;
      for (const p of next.bytes instanceof Uint8Array ? [next.bytes] : next.bytes) {
        // A bulk piece (see encodeFramePieces) is written on its own, never copied into a coalesced write.
        if (p.byteLength >= BULK_PIECE_BYTES) {
          endRun();
          this.writes.push(p);
        } else {
          run.push(p);
          runBytes += p.byteLength;
        }
      }
    }
    endRun();
    return this.writes.length > 0;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
