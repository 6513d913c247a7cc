/**
 * The receiving end of a streamed snapshot: chunks pushed by the socket reader, pulled by one consumer
 * (TransportHandler.onSnapshot). Bounded: push() reports when the buffer is over its high-water mark so
 * the reader pauses the socket (TCP then slows the sender); `onLow` fires once the consumer has drained
 * it to half.
 */
export class ChunkChannel implements AsyncIterable<Uint8Array> {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private buffered = 0;
  private ended = false;
  private error: Error | null = null;
  private abandoned = false;
  private iterated = false;
  private over = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly highWaterBytes: number,
    private readonly onLow: () => void,
  ) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** False when the producer should stop until onLow. */
  push(chunk: Uint8Array): boolean {
    if (this.ended || this.error || this.abandoned) return true;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    this.notify();
    this.over = this.buffered > this.highWaterBytes;
    return !this.over;
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(err: Error): void {
    if (this.ended) return;
    this.error = err;
    this.notify();
  }

  /** The consumer is gone: drop what is buffered and accept (and ignore) the rest of the stream. */
  discard(): void {
    this.abandoned = true;
    this.chunks = [];
    this.head = 0;
    this.buffered = 0;
    this.over = false;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new Error("snapshot data can be read only once");
    this.iterated = true;
    try {
      for (;;) {
        if (this.head < this.chunks.length) {
          const chunk = this.chunks[this.head]!;
          this.chunks[this.head] = EMPTY;
          this.head++;
          if (this.head === this.chunks.length) {
            this.chunks = [];
            this.head = 0;
          }
          this.buffered -= chunk.byteLength;
          if (this.over && this.buffered <= this.highWaterBytes / 2) {
            this.over = false;
            this.onLow();
          }
          yield chunk;
          continue;
        }
        if (this.error) throw this.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      // The consumer stopped early (or finished): release buffered data, let the reader run again.
      const wasOver = this.over;
      this.discard();
      if (wasOver) this.onLow();
    }
  }
}

const EMPTY = new Uint8Array(0);
