import { Inflights } from "./inflights.ts";

export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * The leader's view of one member's log (etcd tracker.Progress).
 * probe: one AppendEntries at a time until the match point is found.
 * replicate: optimistic, pipelined up to maxInflightMsgs messages.
 * snapshot: paused while an InstallSnapshot is in flight.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Snapshot state: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Probe state: an AppendEntries is outstanding; wait for its answer or the next heartbeat response. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Core tick count when the leader last heard from this member. */
  lastContactTick = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflight: number,
    public voter: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(Math.max(1, maxInflight));
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = "probe";
    this.pendingSnapshot = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.state = "replicate";
    this.pendingSnapshot = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = "snapshot";
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** An accepted AppendEntries response for index n. Returns true when match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejected AppendEntries for prevIndex `rejected`; matchHint is the highest index that may match.
   * Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe (and snapshot) send one message at a time, so only a rejection of next-1 is current.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Records an AppendEntries just sent; lastIndex is the last entry it carried (0 when empty). */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }
}
