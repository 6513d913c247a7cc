// A tiny deterministic in-test network for RaftCore: processes Ready batches like a driver would
// (persist, send, apply, advance) and delivers messages FIFO, or shuffled with a seeded random source.
import { bootstrapClusterState, RaftCore } from "../../../src/raft/core/raft-core.ts";
import { mulberry32 } from "../../../src/raft/driver/random.ts";
import {
  decodeConfChange,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Ready,
  type RestoreState,
  type SnapshotMeta,
} from "../../../src/raft/types.ts";

/** The driver's seeded PRNG, so tests and production share one implementation. */
export const seededRandom = mulberry32;

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

export function config(id: NodeId, over: Partial<RaftConfig> = {}, seed = 1): RaftConfig {
  let h = seed;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return {
    id,
    electionTick: 10,
    heartbeatTick: 2,
    preVote: false,
    checkQuorum: false,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    random: seededRandom(h),
    ...over,
  };
}

/** What a node's LogStore/StableStore/SnapshotStore would hold. */
export class MemoryStorage {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: SnapshotMeta = { index: 0, term: 0, confState: { voters: [], learners: [], addresses: {} } };
  entries: Entry[] = [];

  static from(rs: RestoreState): MemoryStorage {
    const s = new MemoryStorage();
    s.hardState = { ...rs.hardState };
    s.snapshot = rs.snapshot;
    s.entries = rs.entries.slice();
    return s;
  }

  restoreState(): RestoreState {
    return { hardState: { ...this.hardState }, snapshot: this.snapshot, entries: this.entries.slice() };
  }

  persist(rd: Ready): void {
    if (rd.snapshot) {
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      const keep = first - this.snapshot.index - 1;
      if (keep < 0 || keep > this.entries.length) throw new Error(`storage: gap at ${first}`);
      this.entries.length = keep;
      this.entries.push(...rd.entries);
    }
    if (rd.hardState) this.hardState = { ...rd.hardState };
  }

  compact(meta: SnapshotMeta): void {
    this.entries = this.entries.filter((e) => e.index > meta.index);
    this.snapshot = meta;
  }
}

export interface NetOptions {
  preVote?: boolean;
  checkQuorum?: boolean;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  seed?: number;
  /** Deliver queued messages in a seeded random order instead of FIFO. */
  shuffle?: boolean;
  /** Core class to instantiate (a deliberately broken subclass, say). */
  coreClass?: typeof RaftCore;
}

export class TestNetwork {
  readonly nodes = new Map<NodeId, RaftCore>();
  readonly storage = new Map<NodeId, MemoryStorage>();
  /** Application data of applied Normal entries (empty no-ops skipped), per node, in apply order. */
  readonly applied = new Map<NodeId, string[]>();
  /** Every applied entry index, per node (to check apply order / no duplicates). */
  readonly appliedIndexes = new Map<NodeId, number[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  readonly snapshotsInstalled = new Map<NodeId, SnapshotMeta[]>();
  /** "term:data" of the entry applied at each index by any node: all nodes must agree (state machine safety). */
  readonly appliedAt = new Map<number, string>();
  /** Every message ever sent, in send order. */
  readonly sent: Message[] = [];
  /** Readies in order, tagged with the node id. */
  readonly readies: { id: NodeId; rd: Ready }[] = [];
  queue: Message[] = [];
  /** Pairs "a->b" whose messages are dropped. */
  private readonly cut = new Set<string>();
  private readonly down = new Set<NodeId>();
  /** Optional filter: return false to drop a message. */
  filter: ((m: Message) => boolean) | null = null;
  /** Like a driver, call reportSnapshot on the sender once a "snap" is delivered or dropped. */
  autoReportSnapshot = true;
  private readonly rand: () => number;
  readonly opts: NetOptions;

  constructor(ids: NodeId[], opts: NetOptions = {}, states?: Map<NodeId, RestoreState>) {
    this.opts = opts;
    this.rand = seededRandom(opts.seed ?? 7);
    const boot = bootstrapClusterState(ids.map((id) => ({ id, address: `addr-${id}` })));
    for (const id of ids) {
      const st = MemoryStorage.from(states?.get(id) ?? boot);
      this.storage.set(id, st);
      this.start(id);
    }
  }

  configFor(id: NodeId): RaftConfig {
    const o = this.opts;
    return config(
      id,
      {
        preVote: o.preVote ?? false,
        checkQuorum: o.checkQuorum ?? false,
        maxSizePerMsg: o.maxSizePerMsg ?? 1024 * 1024,
        maxInflightMsgs: o.maxInflightMsgs ?? 256,
      },
      o.seed ?? 1,
    );
  }

  /** Starts (or restarts) a node from what its storage holds. */
  start(id: NodeId): RaftCore {
    const Core = this.opts.coreClass ?? RaftCore;
    const core = new Core(this.configFor(id), this.storage.get(id)!.restoreState());
    this.nodes.set(id, core);
    this.down.delete(id);
    if (!this.applied.has(id)) {
      this.applied.set(id, []);
      this.appliedIndexes.set(id, []);
      this.readStates.set(id, []);
      this.snapshotsInstalled.set(id, []);
    }
    return core;
  }

  /** Adds a brand-new empty node (joins later through a conf change). */
  addEmptyNode(id: NodeId): RaftCore {
    this.storage.set(id, new MemoryStorage());
    return this.start(id);
  }

  /** Crash: the node loses everything not persisted; messages to it are dropped until restart. */
  crash(id: NodeId): void {
    this.down.add(id);
    this.nodes.delete(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  node(id: NodeId): RaftCore {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no live node ${id}`);
    return n;
  }

  isolate(id: NodeId): void {
    for (const other of this.storage.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Runs one node's Ready like a driver: persist, send, apply, advance. */
  processReady(id: NodeId): boolean {
    const core = this.nodes.get(id);
    if (!core?.hasReady()) return false;
    const rd = core.ready();
    this.readies.push({ id, rd });
    const st = this.storage.get(id)!;
    st.persist(rd);
    for (const m of rd.messages) {
      this.sent.push(m);
      this.queue.push(m);
    }
    if (rd.snapshot) this.snapshotsInstalled.get(id)!.push(rd.snapshot);
    const ap = this.applied.get(id)!;
    const ai = this.appliedIndexes.get(id)!;
    for (const e of rd.committedEntries) {
      const v = `${e.term}:${e.type}:${text(e.data)}`;
      const prev = this.appliedAt.get(e.index);
      if (prev !== undefined && prev !== v) {
        throw new Error(`state machine safety: ${id} applied ${v} at ${e.index}, another node ${prev}`);
      }
      this.appliedAt.set(e.index, v);
      ai.push(e.index);
      if (e.type === EntryType.Normal && e.data.length > 0) ap.push(text(e.data));
      if (e.type === EntryType.ConfChange) decodeConfChange(e.data); // must decode
    }
    this.readStates.get(id)!.push(...rd.readStates);
    core.advance(rd);
    return true;
  }

  /** Delivers queued messages once (those sent while delivering wait for the next round). */
  deliverAll(): number {
    let batch = this.queue;
    this.queue = [];
    if (this.opts.shuffle) {
      batch = batch.slice();
      for (let i = batch.length - 1; i > 0; i--) {
        const j = Math.floor(this.rand() * (i + 1));
        [batch[i], batch[j]] = [batch[j]!, batch[i]!];
      }
    }
    let n = 0;
    for (const m of batch) {
      if (
        this.cut.has(`${m.from}->${m.to}`) ||
        this.down.has(m.to) ||
        (this.filter !== null && !this.filter(m))
      ) {
        if (m.type === "snap" && this.autoReportSnapshot) this.nodes.get(m.from)?.reportSnapshot(m.to, false);
        continue;
      }
      const core = this.nodes.get(m.to);
      if (!core) continue;
      core.step(m);
      // Like a driver: the snapshot's bulk transfer finished, tell the sender.
      if (m.type === "snap" && this.autoReportSnapshot) this.nodes.get(m.from)?.reportSnapshot(m.to, true);
      n++;
    }
    return n;
  }

  /** Process readies and deliver messages until quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const id of [...this.nodes.keys()].sort()) if (this.processReady(id)) busy = true;
      if (this.queue.length > 0) {
        this.deliverAll();
        busy = true;
      }
      if (!busy) return;
    }
    throw new Error("network did not stabilize");
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  /** Ticks every live node n times, stabilizing after each tick. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of [...this.nodes.keys()].sort()) this.node(id).tick();
      this.stabilize();
    }
  }

  /** Makes id campaign and settles. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leaderIds(): NodeId[] {
    return [...this.nodes.entries()]
      .filter(([, c]) => c.status().role === "leader")
      .map(([id]) => id)
      .sort();
  }

  messagesOfType(type: Message["type"], from?: NodeId): Message[] {
    return this.sent.filter((m) => m.type === type && (from === undefined || m.from === from));
  }
}
