import type { Entry, HardState, NodeId, ReadState, SnapshotMeta } from "../../src/raft/types.ts";
import type { SimDisk } from "./sim-disk.ts";
import { entryFingerprint } from "./sim-fsm.ts";

/** A Raft safety (or liveness) property the simulation saw broken. */
export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

interface RegisteredEntry {
  fp: number;
  /** Term of the entry before it in the log that persisted it (0 for index 1). */
  prevTerm: number;
  node: NodeId;
}

interface NodeTrack {
  hard: HardState;
  snapIndex: number;
  /** Index the node's FSM has applied in its current life. */
  applied: number;
}

/**
 * Incremental checker of Raft's safety properties, fed by the simulator with every durable write, role
 * change, commit advance, apply and read. Each hook checks the new fact against everything seen before,
 * so a violation is reported at the step that causes it.
 */
export class InvariantChecker {
  /** Election safety: the one leader of each term, across the whole history. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Nodes that are leader right now, with their term. */
  private readonly currentLeaders = new Map<NodeId, number>();
  /** Log matching: every (index, term) any node persisted, with its content and predecessor's term. */
  private readonly registry: Array<Map<number, RegisteredEntry> | undefined> = [];
  /** Committed entries: index -> term, and the lowest term in which any node saw it committed. */
  private readonly committedTerm: number[] = [];
  private readonly decisionTerm: number[] = [];
  /** Highest commit index any node ever reached. */
  maxCommitted = 0;
  /** State machine safety: FSM hash after applying each index, and the content applied there. */
  private readonly hashAt: number[] = [];
  private readonly appliedFp: number[] = [];
  private readonly nodes = new Map<NodeId, NodeTrack>();
  /** ReadIndex: the commit index every read must reach, fixed when the read was issued. */
  private readonly readFloor = new Map<string, number>();
  readsChecked = 0;

  private track(id: NodeId): NodeTrack {
    let t = this.nodes.get(id);
    if (!t) {
      t = { hard: { term: 0, vote: null, commit: 0 }, snapIndex: 0, applied: 0 };
      this.nodes.set(id, t);
    }
    return t;
  }

  /** A node (re)started from its disk: its FSM restarts at the snapshot. */
  onStart(id: NodeId, disk: SimDisk, coreCommit: number): void {
    const t = this.track(id);
    const snap = disk.snapshotIndex();
    if (snap < t.snapIndex) {
      throw new InvariantViolation(
        "applied-monotonic",
        `${id} restarted at snapshot ${snap} < earlier ${t.snapIndex}`,
      );
    }
    if (coreCommit < t.hard.commit) {
      throw new InvariantViolation(
        "commit-monotonic",
        `${id} restarted with commit ${coreCommit} < ${t.hard.commit}`,
      );
    }
    t.snapIndex = snap;
    t.applied = snap;
    t.hard = { ...disk.hardState };
    for (const e of disk.entries) this.registerEntry(id, disk, e);
    this.onCommitAdvance(id, disk, 0, coreCommit, disk.hardState.term);
  }

  onCrash(id: NodeId): void {
    this.currentLeaders.delete(id);
  }

  onEntriesPersisted(id: NodeId, disk: SimDisk, entries: Entry[]): void {
    for (const e of entries) this.registerEntry(id, disk, e);
  }

  private registerEntry(id: NodeId, disk: SimDisk, e: Entry): void {
    const prevTerm = e.index === 1 ? 0 : disk.termAt(e.index - 1);
    if (prevTerm === undefined) throw new Error(`checker: no term before ${e.index} on ${id}`);
    const fp = entryFingerprint(e);
    let at = this.registry[e.index];
    if (!at) {
      at = new Map();
      this.registry[e.index] = at;
    }
    const seen = at.get(e.term);
    if (!seen) {
      at.set(e.term, { fp, prevTerm, node: id });
      return;
    }
    if (seen.fp !== fp) {
      throw new InvariantViolation(
        "log-matching",
        `entry ${e.index}@t${e.term} on ${id} differs in content from the one on ${seen.node}`,
      );
    }
    if (seen.prevTerm !== prevTerm) {
      throw new InvariantViolation(
        "log-matching",
        `entry ${e.index}@t${e.term} follows term ${prevTerm} on ${id} but term ${seen.prevTerm} on ${seen.node}`,
      );
    }
  }

  onHardState(id: NodeId, hs: HardState): void {
    const t = this.track(id);
    const old = t.hard;
    if (hs.term < old.term) {
      throw new InvariantViolation("term-monotonic", `${id} persisted term ${hs.term} after ${old.term}`);
    }
    if (hs.term === old.term && old.vote !== null && hs.vote !== old.vote) {
      throw new InvariantViolation(
        "single-vote",
        `${id} voted ${old.vote} then ${hs.vote} in term ${hs.term}`,
      );
    }
    if (hs.commit < old.commit) {
      throw new InvariantViolation(
        "commit-monotonic",
        `${id} persisted commit ${hs.commit} after ${old.commit}`,
      );
    }
    t.hard = { ...hs };
  }

  /** After persisting: a node's commit moved from `from` to `to` while in term `term`. */
  onCommitAdvance(id: NodeId, disk: SimDisk, from: number, to: number, term: number): void {
    if (to > disk.lastIndex()) {
      throw new InvariantViolation(
        "commit-bounded",
        `${id} committed ${to} beyond its last index ${disk.lastIndex()}`,
      );
    }
    for (let i = Math.max(from + 1, disk.snapshotIndex()); i <= to; i++) {
      const et = disk.termAt(i);
      if (et === undefined) continue;
      const known = this.committedTerm[i];
      if (known === undefined) {
        this.committedTerm[i] = et;
        this.decisionTerm[i] = term;
        this.checkLeadersHold(i, et, term);
      } else if (known !== et) {
        throw new InvariantViolation(
          "committed-entry-changed",
          `${id} committed ${i}@t${et} but ${i}@t${known} was committed before`,
        );
      } else if (term < this.decisionTerm[i]!) {
        this.decisionTerm[i] = term;
        this.checkLeadersHold(i, et, term);
      }
    }
    if (to > this.maxCommitted) this.maxCommitted = to;
  }

  private disks: (id: NodeId) => SimDisk | undefined = () => undefined;

  /** Lets the checker look at the logs of current leaders (leader completeness in both directions). */
  attachDisks(lookup: (id: NodeId) => SimDisk | undefined): void {
    this.disks = lookup;
  }

  private checkLeadersHold(index: number, term: number, decidedIn: number): void {
    for (const [leader, lt] of this.currentLeaders) {
      if (lt <= decidedIn) continue;
      const disk = this.disks(leader);
      if (disk) this.checkHas(leader, lt, disk, index, term);
    }
  }

  private checkHas(leader: NodeId, leaderTerm: number, disk: SimDisk, index: number, term: number): void {
    if (index < disk.snapshotIndex()) return; // covered by a snapshot of a committed prefix
    const have = disk.termAt(index);
    if (have !== term) {
      throw new InvariantViolation(
        "leader-completeness",
        `leader ${leader} of term ${leaderTerm} lacks committed entry ${index}@t${term} (has ${have === undefined ? "nothing" : `t${have}`})`,
      );
    }
  }

  committedTermAt(index: number): number | undefined {
    return this.committedTerm[index];
  }

  onRole(id: NodeId, leader: boolean, term: number, disk: SimDisk): void {
    if (!leader) {
      this.currentLeaders.delete(id);
      return;
    }
    const prev = this.leaderOfTerm.get(term);
    if (prev !== undefined && prev !== id) {
      throw new InvariantViolation("election-safety", `${id} and ${prev} were both leader in term ${term}`);
    }
    this.leaderOfTerm.set(term, id);
    this.currentLeaders.set(id, term);
    for (let i = 1; i < this.committedTerm.length; i++) {
      const ct = this.committedTerm[i];
      if (ct === undefined || this.decisionTerm[i]! >= term) continue;
      this.checkHas(id, term, disk, i, ct);
    }
  }

  onSnapshotInstalled(id: NodeId, meta: SnapshotMeta): void {
    const t = this.track(id);
    if (meta.index < t.snapIndex) {
      throw new InvariantViolation(
        "applied-monotonic",
        `${id} installed snapshot ${meta.index} < ${t.snapIndex}`,
      );
    }
    const known = this.committedTerm[meta.index];
    if (known !== undefined && known !== meta.term) {
      throw new InvariantViolation(
        "state-machine-safety",
        `${id} installed snapshot ${meta.index}@t${meta.term} but ${meta.index}@t${known} is committed`,
      );
    }
    t.snapIndex = meta.index;
  }

  /** The FSM was replaced by a snapshot's state at meta.index. */
  onFsmRestored(id: NodeId, index: number, hash: number): void {
    const t = this.track(id);
    if (index < t.applied) {
      throw new InvariantViolation(
        "applied-monotonic",
        `${id} FSM restored to ${index} after applying ${t.applied}`,
      );
    }
    t.applied = index;
    this.recordHash(id, index, hash, undefined);
  }

  onCompacted(id: NodeId, index: number): void {
    const t = this.track(id);
    if (index < t.snapIndex)
      throw new InvariantViolation("applied-monotonic", `${id} compacted backwards to ${index}`);
    t.snapIndex = index;
  }

  onApply(id: NodeId, e: Entry, hashAfter: number): void {
    const t = this.track(id);
    if (e.index !== t.applied + 1) {
      throw new InvariantViolation("apply-order", `${id} applied ${e.index} after ${t.applied}`);
    }
    if (e.index > t.hard.commit) {
      throw new InvariantViolation(
        "apply-committed-only",
        `${id} applied ${e.index} beyond commit ${t.hard.commit}`,
      );
    }
    t.applied = e.index;
    this.recordHash(id, e.index, hashAfter, entryFingerprint(e));
  }

  private recordHash(id: NodeId, index: number, hash: number, fp: number | undefined): void {
    if (fp !== undefined) {
      const seenFp = this.appliedFp[index];
      if (seenFp === undefined) this.appliedFp[index] = fp;
      else if (seenFp !== fp) {
        throw new InvariantViolation(
          "state-machine-safety",
          `${id} applied different content at index ${index}`,
        );
      }
    }
    const seen = this.hashAt[index];
    if (seen === undefined) this.hashAt[index] = hash;
    else if (seen !== hash) {
      throw new InvariantViolation(
        "state-machine-safety",
        `${id} FSM state at index ${index} differs from another node's`,
      );
    }
  }

  onReadIssued(context: string): void {
    this.readFloor.set(context, this.maxCommitted);
  }

  onReadState(id: NodeId, rs: ReadState): void {
    const floor = this.readFloor.get(rs.context);
    if (floor === undefined) return;
    this.readsChecked++;
    if (rs.index < floor) {
      throw new InvariantViolation(
        "read-index-linearizable",
        `${id} read ${rs.context} at index ${rs.index}, but ${floor} was committed before the read was issued`,
      );
    }
  }

  /** Independent full check: every pair of persisted logs agrees wherever (index, term) matches. */
  checkAllLogs(disks: Array<[NodeId, SimDisk]>): void {
    for (let a = 0; a < disks.length; a++) {
      for (let b = a + 1; b < disks.length; b++) {
        const [ia, da] = disks[a]!;
        const [ib, db] = disks[b]!;
        const lo = Math.max(da.snapshotIndex(), db.snapshotIndex()) + 1;
        const hi = Math.min(da.lastIndex(), db.lastIndex());
        let match = -1;
        for (let i = hi; i >= lo; i--) {
          if (da.termAt(i) === db.termAt(i)) {
            match = i;
            break;
          }
        }
        for (let i = lo; i <= match; i++) {
          const ea = da.entryAt(i)!;
          const eb = db.entryAt(i)!;
          if (ea.term !== eb.term || entryFingerprint(ea) !== entryFingerprint(eb)) {
            throw new InvariantViolation(
              "log-matching",
              `${ia} and ${ib} agree at ${match} but differ at ${i}`,
            );
          }
        }
      }
    }
  }
}
