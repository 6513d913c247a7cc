/**
 * Paces garbage collection by bulk data (chunk batches scanned, pushed, received, fetched or
 * materialised). JSC frees large ArrayBuffers only when a collection runs, which under a steady stream
 * of multi-MiB frames happens too rarely: the node that shipped a 64 MiB file peaked at 550-610 MB RSS,
 * with ~190 MB of dead buffers. A quick (asynchronous, generational) collection every `quickEvery`
 * bytes costs ~0.1 ms and frees most of them. A full one (10-30 ms each, too dear to run every few MiB)
 * catches what the quick ones leave: at once when the resident set has grown past a soft limit (but not
 * more often than every `minFullGap` bytes, so memory that is live cannot cause a storm of them), and
 * every `fullEvery` bytes in any case (docs/benchmarks.md).
 */
export interface GcPacerOptions {
  quickEvery: number;
  fullEvery: number;
  minFullGap: number;
  rssSoftLimit: number;
  rss?: () => number;
  collect?: (full: boolean) => void;
}

export class GcPacer {
  private sinceQuick = 0;
  private sinceFull = 0;
  private readonly rss: () => number;
  private readonly collect: (full: boolean) => void;

  constructor(private readonly o: GcPacerOptions) {
    this.rss = o.rss ?? (() => process.memoryUsage.rss());
    this.collect = o.collect ?? ((full) => Bun.gc(full));
  }

  /** Counts `bytes` more; collects once a threshold is passed. */
  note(bytes: number): void {
    this.sinceQuick += bytes;
    this.sinceFull += bytes;
    if (this.sinceQuick < this.o.quickEvery && this.sinceFull < this.o.fullEvery) return;
    this.sinceQuick = 0;
    const full =
      this.sinceFull >= this.o.fullEvery ||
      (this.sinceFull >= this.o.minFullGap && this.rss() > this.o.rssSoftLimit);
    if (full) this.sinceFull = 0;
    this.collect(full);
  }
}
