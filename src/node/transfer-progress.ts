// Byte progress of one chunk transfer, turned into throttled TransferEvents: a 1 GiB file moving in
// thousands of chunks yields about ten events a second, not one per chunk.
import type { TransferEvent } from "./node-events.ts";

/** Default minimum time between two progress events of one transfer (the first and last always go out). */
export const TRANSFER_EVENT_INTERVAL_MS = 100;
/** Transfers smaller than this stay silent: only large ones deserve a progress bar. */
export const LARGE_TRANSFER_BYTES = 1024 * 1024;

export interface TransferProgressOptions {
  id: string;
  direction: TransferEvent["direction"];
  path: string | null;
  files: number;
  peers: string[];
  chunksTotal: number;
  /** Null when unknown at the start (a fetch); the final event reports what moved. */
  bytesTotal: number | null;
  emit: (e: TransferEvent) => void;
  /** Milliseconds from any origin (only differences are used). */
  clock: () => number;
  intervalMs?: number;
  /** A transfer is visible once its total (or, while unknown, what moved) reaches this. */
  minBytes?: number;
}

export class TransferProgress {
  private bytesDone = 0;
  private chunksDone = 0;
  private bytesTotal: number | null;
  private chunksTotal: number;
  private peers: string[];
  private readonly startedAt: number;
  private lastEmitAt = 0;
  private visible = false;
  private ended = false;
  private readonly intervalMs: number;
  private readonly minBytes: number;

  constructor(private readonly o: TransferProgressOptions) {
    this.bytesTotal = o.bytesTotal;
    this.chunksTotal = o.chunksTotal;
    this.peers = [...o.peers];
    this.intervalMs = o.intervalMs ?? TRANSFER_EVENT_INTERVAL_MS;
    this.minBytes = o.minBytes ?? LARGE_TRANSFER_BYTES;
    this.startedAt = o.clock();
    this.update();
  }

  /** The members the next event names (push: those still healthy; fetch: the one being asked). */
  setPeers(peers: string[]): void {
    this.peers = [...peers];
  }

  /** The totals became known better (a push that started while its file was still being read). */
  setTotal(bytes: number | null, chunks: number): void {
    this.bytesTotal = bytes;
    this.chunksTotal = chunks;
  }

  /** `bytes` in `chunks` more moved. */
  advance(bytes: number, chunks: number): void {
    if (this.ended) return;
    this.bytesDone += bytes;
    this.chunksDone += chunks;
    this.update();
  }

  finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.bytesTotal ??= this.bytesDone;
    if (this.visible || this.bytesTotal >= this.minBytes) this.send("done");
  }

  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (this.visible) this.send("failed", err instanceof Error ? err.message : String(err));
  }

  private update(): void {
    if (this.ended) return;
    const now = this.o.clock();
    if (!this.visible) {
      if ((this.bytesTotal ?? this.bytesDone) < this.minBytes) return;
      this.visible = true;
      this.send("active", undefined, now);
      return;
    }
    if (now - this.lastEmitAt >= this.intervalMs) this.send("active", undefined, now);
  }

  private send(state: TransferEvent["state"], error?: string, now = this.o.clock()): void {
    this.lastEmitAt = now;
    const e: TransferEvent = {
      type: "transfer",
      id: this.o.id,
      direction: this.o.direction,
      path: this.o.path,
      files: this.o.files,
      peers: [...this.peers],
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      chunksDone: this.chunksDone,
      chunksTotal: Math.max(this.chunksTotal, this.chunksDone),
      elapsedMs: Math.max(0, now - this.startedAt),
      state,
    };
    if (error !== undefined) e.error = error;
    // Progress is an observation: a listener that throws must not break the transfer.
    try {
      this.o.emit(e);
    } catch {}
  }
}
