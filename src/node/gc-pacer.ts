/**
 * Runs a full garbage collection after every `everyBytes` of bulk data (chunk batches pushed, received or
 * fetched). JSC frees large ArrayBuffers only when a full collection runs, which under a steady stream of
 * 8 MiB frames happens too rarely: the node that shipped a 64 MiB file peaked at 550-610 MB RSS, with
 * ~190 MB of dead buffers. One collection per 8 MiB (a few ms each) keeps every node under 200 MB
 * (docs/benchmarks.md).
 */
export class GcPacer {
  private since = 0;

  constructor(
    private readonly everyBytes: number,
    private readonly collect: () => void = () => Bun.gc(true),
  ) {}

  /** Counts `bytes` more; collects (and starts counting again) once the threshold is passed. */
  note(bytes: number): void {
    this.since += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    this.collect();
  }
}
