/**
 * Paces garbage collection by bulk data (chunk batches scanned, pushed, received, fetched or
 * materialised). JSC frees large ArrayBuffers only when a collection runs, which under a steady stream
 * of multi-MiB frames happens too rarely: the node that shipped a 64 MiB file peaked at 550-610 MB RSS,
 * with ~190 MB of dead buffers. A quick (asynchronous, generational) collection every `quickEvery`
 * bytes costs ~0.1 ms and frees most of them; a full one every `fullEvery` bytes (10-30 ms each, too
 * dear to run every few MiB) catches what the quick ones leave (docs/benchmarks.md).
 */
export class GcPacer {
  private sinceQuick = 0;
  private sinceFull = 0;

  constructor(
    private readonly quickEvery: number,
    private readonly fullEvery: number,
    private readonly collect: (full: boolean) => void = (full) => Bun.gc(full),
  ) {}

  /** Counts `bytes` more; collects once a threshold is passed. */
  note(bytes: number): void {
    this.sinceQuick += bytes;
    this.sinceFull += bytes;
    if (this.sinceFull >= this.fullEvery) {
      this.sinceFull = 0;
      this.sinceQuick = 0;
      this.collect(true);
    } else if (this.sinceQuick >= this.quickEvery) {
      this.sinceQuick = 0;
      this.collect(false);
    }
  }
}
