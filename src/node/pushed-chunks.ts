/**
 * Which peers recently took which chunks from this node's pushes. A scan that fails part-way (the file
 * changed while it was read: a large write still in progress) has already pushed what it read; the
 * rescan of the same file would ship those megabytes again. A push skips a chunk every peer it sends to
 * took recently, and its final durable request names the skipped chunks, so each peer confirms it still
 * holds them (a peer that restarted since may have lost bytes stored without fsync) or asks for them again.
 *
 * Bounded: the oldest records go first beyond `maxChunks`, and a record older than `maxAgeMs` is not
 * trusted (chunks nothing refers to may be collected by the peer's GC after a while).
 */
export class PushedChunks {
  private readonly held = new Map<string, { peers: Set<string>; at: number }>();

  constructor(
    private readonly o: { maxChunks: number; maxAgeMs: number; now?: () => number } = {
      maxChunks: 8192,
      maxAgeMs: 60_000,
    },
  ) {}

  /** `peer` acknowledged storing `hash`. */
  note(hash: string, peer: string): void {
    const now = this.now();
    const rec = this.held.get(hash);
    if (rec && now - rec.at <= this.o.maxAgeMs) {
      rec.peers.add(peer);
      return;
    }
    this.held.delete(hash); // re-inserted last: the Map's order is the eviction order
    this.held.set(hash, { peers: new Set([peer]), at: now });
    if (this.held.size > this.o.maxChunks) this.held.delete(this.held.keys().next().value!);
  }

  /** Whether every one of `peers` took `hash` recently. */
  heldByAll(hash: string, peers: readonly string[]): boolean {
    const rec = this.held.get(hash);
    if (!rec || this.now() - rec.at > this.o.maxAgeMs) return false;
    return peers.every((p) => rec.peers.has(p));
  }

  /** `peer` no longer holds `hash` (it said so): push it again next time. */
  forget(hash: string, peer: string): void {
    this.held.get(hash)?.peers.delete(peer);
  }

  get size(): number {
    return this.held.size;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}
