/**
 * Sliding window of in-flight AppendEntries to one follower in replicate state (pipelining).
 * Each slot holds the last log index a message carried; an ack for index i frees every slot <= i.
 */
export class Inflights {
  private readonly buf: number[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error("inflights: capacity must be >= 1");
    this.buf = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count >= this.capacity;
  }

  add(lastIndex: number): void {
    if (this.full()) throw new Error("inflights: add to a full window");
    this.buf[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every in-flight message whose last index is <= to (the follower acknowledged them). */
  freeLE(to: number): void {
    while (this.count > 0 && this.buf[this.start]! <= to) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Lets one more message through when the window is stuck (e.g. a message was lost). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
