/**
 * The local half of the data path: paths the watcher saw → LocalScanner (stat, hash, echo check) →
 * proposals batched into one Raft entry → Forwarder (acknowledged after commit).
 *
 * A path is never in two proposals at once: the next proposal for a path is based on the version the
 * previous one produced (its vector clock), otherwise a quick second save would look like a
 * concurrent edit and spawn a conflict copy. Paths that change while in flight are rescanned after.
 */
import type { ChunkSink } from "../store/local-scanner.ts";

export interface PipelineScanner<C> {
  /** Chunks the scan stores go to `sink` as they are stored (the push starts before the scan ends). A
   * failed scan is retried; its error's `retryAfterMs`, when it has one, says how soon. */
  scan(relPath: string, sink?: ChunkSink): Promise<{ command: C; missingChunks: string[] } | null>;
}

/** One batch's push of new chunks to the peers (see ChunkPush). */
export interface PushSession extends ChunkSink {
  /** Everything the batch's commands name that peers may lack: durable on a quorum when this resolves. */
  finish(hashes: string[], paths: string[]): Promise<void>;
  /** Nothing of it will be proposed (every scan failed). */
  abort(err: unknown): void;
}

export interface ChangePipelineOptions<C> {
  scanner: PipelineScanner<C>;
  /** Turn one or more commands into one Raft entry payload. */
  encode: (commands: C[]) => Uint8Array;
  propose: (data: Uint8Array) => Promise<unknown>;
  /** A push for one batch: chunks that are not inline must be durable on a quorum before the entry
   * naming them is proposed. Scans hand chunks over as they store them; finish() gets the full list and
   * the files whose chunks these are (in batch order), so progress can name them. */
  openPush: () => PushSession;
  maxBatch?: number;
  /** Proposals in flight at once (default 4). Small on purpose: what changes meanwhile piles up into the
   * next, larger batch (group commit), instead of each watcher event becoming its own Raft entry; 4
   * rather than 2 keeps the log busy while a batch is scanned (W2 bursts measured ~10% faster). */
  maxInFlightBatches?: number;
  scanConcurrency?: number;
  /** Wait before retrying after a failed proposal (leader change, outage). */
  retryDelayMs?: number;
  /** Wait before rescanning a path whose scan failed (usually a file still being written), unless the
   * error says (retryAfterMs). */
  scanRetryDelayMs?: number;
  onError?: (path: string, err: unknown) => void;
}

export class ChangePipeline<C> {
  private readonly dirty = new Set<string>();
  private readonly inFlight = new Set<string>();
  private batchesInFlight = 0;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: ChangePipelineOptions<C>) {}

  markDirty(paths: Iterable<string>): void {
    if (this.closed) return;
    for (const p of paths) this.dirty.add(p);
    this.pump();
  }

  /** Resolves when nothing is dirty or in flight (for tests and graceful shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.dirty.size === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  get pending(): number {
    return this.dirty.size + this.inFlight.size;
  }

  close(): void {
    this.closed = true;
    this.dirty.clear();
  }

  private pump(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      // At the in-flight cap, the next pump comes from a finishing batch (re-pumping here would spin).
      if (this.closed || this.batchesInFlight >= (this.o.maxInFlightBatches ?? 4)) return;
      if ([...this.dirty].some((p) => !this.inFlight.has(p))) this.pump();
      else if (this.dirty.size === 0 && this.inFlight.size === 0) this.notifyIdle();
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async run(): Promise<void> {
    const maxBatch = this.o.maxBatch ?? 512;
    const maxBatches = this.o.maxInFlightBatches ?? 4;
    while (!this.closed && this.batchesInFlight < maxBatches) {
      const batch: string[] = [];
      for (const p of this.dirty) {
        if (this.inFlight.has(p)) continue;
        batch.push(p);
        if (batch.length >= maxBatch) break;
      }
      if (batch.length === 0) return;
      for (const p of batch) {
        this.dirty.delete(p);
        this.inFlight.add(p);
      }
      // Proposals of one batch go out while the next batch is scanned: pipelining without reordering a path.
      this.batchesInFlight++;
      void this.process(batch);
      await Promise.resolve();
    }
  }

  private async process(paths: string[]): Promise<void> {
    const push = this.o.openPush();
    try {
      const scanned = await this.scanAll(paths, push);
      const commands = scanned.filter((s) => s !== null);
      const missing = commands.flatMap((c) => c.missingChunks);
      if (missing.length > 0) {
        const carrying = paths.filter((_, i) => (scanned[i]?.missingChunks.length ?? 0) > 0);
        await push.finish(missing, carrying);
      } else {
        push.abort(new Error("no change needs these chunks any more (the file changed while it was read)"));
      }
      if (commands.length > 0) await this.o.propose(this.o.encode(commands.map((c) => c.command)));
    } catch (err) {
      push.abort(err);
      for (const p of paths) this.o.onError?.(p, err);
      // Keep the change: rescan later (the folder stays the source of truth).
      await new Promise((r) => setTimeout(r, this.o.retryDelayMs ?? 500));
      for (const p of paths) this.dirty.add(p);
    } finally {
      this.batchesInFlight--;
      for (const p of paths) this.inFlight.delete(p);
      if (this.dirty.size > 0) this.pump();
      else if (!this.running && this.inFlight.size === 0) this.notifyIdle();
    }
  }

  private retryLater(p: string, afterMs?: number): void {
    const t = setTimeout(() => this.markDirty([p]), afterMs ?? this.o.scanRetryDelayMs ?? 50);
    t.unref?.();
  }

  private async scanAll(
    paths: string[],
    sink: ChunkSink,
  ): Promise<({ command: C; missingChunks: string[] } | null)[]> {
    const out: ({ command: C; missingChunks: string[] } | null)[] = new Array(paths.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const i = next++;
        try {
          out[i] = await this.o.scanner.scan(paths[i]!, sink);
        } catch (err) {
          // E.g. the file changed while it was read (an editor still writing): look again shortly,
          // rather than waiting for the periodic reconcile.
          this.o.onError?.(paths[i]!, err);
          out[i] = null;
          this.retryLater(paths[i]!, (err as { retryAfterMs?: number } | null)?.retryAfterMs);
        }
      }
    };
    const n = Math.min(this.o.scanConcurrency ?? 4, paths.length);
    await Promise.all(Array.from({ length: n }, worker));
    return out;
  }
}
