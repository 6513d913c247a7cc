/**
 * Matches proposals to their outcome. A proposal made at (index, term) succeeded iff the entry applied
 * at that index has the same term; any other term there means a new leader overwrote it.
 */
export class ProposalTracker {
  private readonly pending = new Map<
    number,
    { term: number; resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();

  track(index: number, term: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.get(index)?.reject(new Error("proposal superseded"));
      this.pending.set(index, { term, resolve, reject });
    });
  }

  /** An entry was applied: settle the proposal waiting on that index, if any. */
  settle(index: number, term: number, result: unknown): void {
    const p = this.pending.get(index);
    if (!p) return;
    this.pending.delete(index);
    if (p.term === term) p.resolve(result);
    else p.reject(new Error("proposal lost: leadership changed before it committed"));
  }

  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }
}
