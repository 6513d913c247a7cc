import { EventEmitter } from "node:events";
import { bootstrapState, RaftCore } from "../core/raft-core.ts";
import type { FSM } from "../fsm.ts";
import type { RaftStorage } from "../raft-storage.ts";
import type { SnapshotStore } from "../snapshot-store.ts";
import type { Transport } from "../transport.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  emptyConfState,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type RestoreState,
  type SnapshotMeta,
  type SoftState,
  type Status,
} from "../types.ts";
import { mustSync } from "./must-sync.ts";
import { ProposalTracker } from "./proposal-tracker.ts";
import { mulberry32 } from "./random.ts";

export interface RaftNodeOptions {
  id: NodeId;
  /** Transport address peers use to reach this node ("host:port"). */
  address: string;
  storage: RaftStorage;
  snapshots: SnapshotStore;
  transport: Transport;
  fsm: FSM;
  /** Start a new single-voter cluster when there is no state yet (ignored on restart). */
  bootstrap?: boolean;
  tickMs?: number;
  heartbeatTick?: number;
  electionTick?: number;
  /** Take a snapshot after this many applied entries since the last one. */
  snapshotThreshold?: number;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  seed?: number;
  /** Application requests arriving over the transport (e.g. forwarded proposals). */
  onRequest?: (payload: unknown) => Promise<unknown>;
  log?: (level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

export class NotLeaderError extends Error {
  constructor(readonly leader: NodeId | null) {
    super(leader ? `not the leader (leader is ${leader})` : "not the leader (no leader known)");
    this.name = "NotLeaderError";
  }
}

export interface RaftNodeEvents {
  softState: [SoftState];
  applied: [Entry, unknown];
  confChange: [ConfState];
  snapshot: [SnapshotMeta];
  /** The node stopped itself after an unrecoverable error; the process should exit. */
  failed: [Error];
}

/**
 * Runs the pure RaftCore with real time and I/O: ticks on a timer, persists each Ready in one
 * sqlite transaction, sends messages, applies committed entries to the FSM, takes snapshots and
 * compacts the log. All core access happens on the event loop, so no locking is needed; Ready
 * handling is serialised so the persist → send → apply → advance order always holds.
 */
export class RaftNode extends EventEmitter<RaftNodeEvents> {
  readonly id: NodeId;
  private core!: RaftCore;
  private readonly opts: Required<
    Pick<
      RaftNodeOptions,
      "tickMs" | "heartbeatTick" | "electionTick" | "snapshotThreshold" | "maxSizePerMsg" | "maxInflightMsgs"
    >
  > &
    RaftNodeOptions;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private processing = false;
  private processAgain = false;
  private stopped = false;
  private readonly proposals = new ProposalTracker();
  private readonly reads = new Map<
    string,
    { resolve: (index: number) => void; reject: (e: Error) => void }
  >();
  private readonly readyIndexWaiters: { index: number; resolve: () => void }[] = [];
  private readSeq = 0;
  private confState: ConfState = emptyConfState();
  private softState: SoftState = { leader: null, role: "follower" };
  private applied = 0;
  private lastSnapshotIndex = 0;
  private lastSnapshotMeta: SnapshotMeta | null = null;
  private snapshotting = false;
  private applying = false;
  /** The run of entries the apply worker is applying right now (taken off applyQueue). */
  private applyingRun: Entry[] = [];
  private readonly applyQueue: (
    | { kind: "entry"; entry: Entry }
    | { kind: "snapshot"; meta: SnapshotMeta }
  )[] = [];
  private readonly sendingSnapshot = new Set<NodeId>();
  /** Sender addresses seen on inbound connections: lets a node answer before it has a configuration. */
  private readonly learnedAddresses = new Map<NodeId, string>();
  /** The hard state last written (see mustSync). */
  private persistedHardState: HardState | null = null;
  private readonly startedAt = Date.now();

  constructor(options: RaftNodeOptions) {
    super();
    this.id = options.id;
    this.opts = {
      tickMs: 50,
      heartbeatTick: 2,
      electionTick: 10,
      snapshotThreshold: 8192,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      // An option passed as undefined means "default", not "unset".
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as typeof this.opts;
  }

  /** Load durable state, catch the FSM up with the newest snapshot, start the transport and the clock. */
  async start(): Promise<void> {
    const { storage, snapshots, fsm } = this.opts;
    let restore = await this.loadRestoreState();
    if (restore.snapshot.index === 0 && restore.entries.length === 0 && restore.hardState.term === 0) {
      if (this.opts.bootstrap) {
        restore = bootstrapState(this.id, this.opts.address);
        storage.persist(restore.hardState, restore.entries);
        this.log("info", "bootstrapped a new single-voter cluster", { id: this.id });
      }
    }
    if (restore.snapshot.index > 0 && fsm.appliedIndex() < restore.snapshot.index) {
      const opened = await snapshots.open(restore.snapshot.index);
      if (!opened) throw new Error(`snapshot ${restore.snapshot.index} is missing from the snapshot store`);
      await fsm.restore(opened.meta, opened.data);
    }
    this.persistedHardState = restore.hardState;
    this.lastSnapshotIndex = restore.snapshot.index;
    this.lastSnapshotMeta = restore.snapshot.index > 0 ? restore.snapshot : null;
    this.applied = restore.snapshot.index;
    this.confState = restore.snapshot.confState;

    this.core = new RaftCore(
      {
        id: this.id,
        electionTick: this.opts.electionTick,
        heartbeatTick: this.opts.heartbeatTick,
        preVote: true,
        checkQuorum: true,
        maxSizePerMsg: this.opts.maxSizePerMsg,
        maxInflightMsgs: this.opts.maxInflightMsgs,
        random: mulberry32(this.opts.seed ?? hashSeed(`${this.id}:${Date.now()}:${process.pid}`)),
      },
      restore,
    );
    this.confState = this.core.status().confState;

    await this.opts.transport.listen({
      onMessage: (m, fromAddress) => {
        if (fromAddress && this.learnedAddresses.get(m.from) !== fromAddress)
          this.learnedAddresses.set(m.from, fromAddress);
        this.step(m);
      },
      onSnapshot: (m, data) => this.receiveSnapshot(m, data),
      onRequest: (payload) => this.handleRequest(payload),
    });
    this.ticker = setInterval(() => {
      this.core.tick();
      this.kick();
    }, this.opts.tickMs);
    this.kick();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.proposals.failAll(new Error("raft node stopped"));
    for (const r of this.reads.values()) r.reject(new Error("raft node stopped"));
    this.reads.clear();
    await this.opts.transport.close();
  }

  get isLeader(): boolean {
    return this.softState.role === "leader";
  }

  get leader(): NodeId | null {
    return this.softState.leader;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  status(): Status {
    return this.core.status();
  }

  /** Transport address of a member, from the current configuration. */
  addressOf(id: NodeId): string | undefined {
    return this.confState.addresses[id] ?? this.learnedAddresses.get(id);
  }

  members(): ConfState {
    return this.confState;
  }

  /** Propose data; resolves with the FSM's result once the entry is applied on this node. */
  propose(data: Uint8Array): Promise<unknown> {
    if (this.stopped) return Promise.reject(new Error("raft node stopped"));
    const r = this.core.propose(data);
    if (!r.ok)
      return Promise.reject(r.reason === "not-leader" ? new NotLeaderError(r.leader) : new Error(r.reason));
    const p = this.proposals.track(r.index, r.term);
    this.kick();
    return p;
  }

  /** Propose a membership change; resolves once it is committed and applied. */
  proposeConfChange(cc: ConfChange): Promise<unknown> {
    if (this.stopped) return Promise.reject(new Error("raft node stopped"));
    const r = this.core.proposeConfChange(cc);
    if (!r.ok) {
      if (r.reason === "not-leader") return Promise.reject(new NotLeaderError(r.leader));
      return Promise.reject(new Error(`membership change refused: ${r.reason}`));
    }
    const p = this.proposals.track(r.index, r.term);
    this.kick();
    return p;
  }

  transferLeadership(to: NodeId): void {
    this.core.transferLeadership(to);
    this.kick();
  }

  campaign(): void {
    this.core.campaign();
    this.kick();
  }

  /** Linearizable read barrier: resolves once this node has applied everything committed before the call. */
  async readBarrier(timeoutMs = 5000): Promise<number> {
    const index = await this.readIndex(timeoutMs);
    await this.waitApplied(index);
    return index;
  }

  /**
   * ReadIndex without the wait for the apply: every entry committed before the call has an index <= the
   * result. With unappliedEntries a caller can wait only for the entries it cares about.
   */
  async readIndex(timeoutMs = 5000): Promise<number> {
    const context = `${this.id}:${++this.readSeq}`;
    const index = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(context);
        reject(new Error("read index timed out (no leader?)"));
      }, timeoutMs);
      this.reads.set(context, {
        resolve: (i) => {
          clearTimeout(timer);
          resolve(i);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.core.readIndex(context);
      this.kick();
    });
    return index;
  }

  /**
   * Committed entries up to `upTo` that are not applied yet (being applied, or queued), in order; null
   * when they are not all known here yet (a follower behind the leader's commit index) or a snapshot is
   * waiting to be installed: then only waitApplied(upTo) tells.
   */
  unappliedEntries(upTo: number): Entry[] | null {
    const out: Entry[] = [];
    let known = this.applied;
    for (const e of this.applyingRun) {
      known = Math.max(known, e.index);
      if (e.index > this.applied && e.index <= upTo) out.push(e);
    }
    for (const item of this.applyQueue) {
      if (item.kind === "snapshot") return null;
      known = Math.max(known, item.entry.index);
      if (item.entry.index <= upTo) out.push(item.entry);
    }
    return known >= upTo ? out : null;
  }

  /** Resolves once the local FSM has applied `index`. */
  waitApplied(index: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    return new Promise((resolve) => this.readyIndexWaiters.push({ index, resolve }));
  }

  private step(m: Message): void {
    if (this.stopped) return;
    this.core.step(m);
    this.kick();
  }

  private async handleRequest(payload: unknown): Promise<unknown> {
    if (!this.opts.onRequest) throw new Error("no request handler");
    return this.opts.onRequest(payload);
  }

  private async receiveSnapshot(m: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (!m.snapshot) throw new Error("snapshot message without metadata");
    this.log("debug", "receiving snapshot", { from: m.from, index: m.snapshot.index });
    const sink = await this.opts.snapshots.create(m.snapshot);
    try {
      for await (const chunk of data) await sink.write(chunk);
      await sink.close();
    } catch (err) {
      await sink.cancel();
      throw err;
    }
    this.step(m);
  }

  /** Schedule Ready processing; coalesces many inputs into one Ready (group commit). */
  private kick(): void {
    if (this.stopped) return;
    if (this.processing) {
      this.processAgain = true;
      return;
    }
    this.processing = true;
    setImmediate(() => void this.processReadyLoop());
  }

  private async processReadyLoop(): Promise<void> {
    try {
      do {
        this.processAgain = false;
        while (!this.stopped && this.core.hasReady()) {
          await this.handleReady(this.core.ready());
        }
      } while (this.processAgain && !this.stopped);
    } catch (err) {
      this.log("error", "raft ready processing failed; stopping node", { error: String(err) });
      await this.stop();
      this.emit("failed", err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.processing = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { storage } = this.opts;
    if (rd.softState) this.updateSoftState(rd.softState);

    // 1. Durability first: snapshot meta (data is already in the snapshot store), entries, hard state.
    if (rd.snapshot) {
      // The core replaced its whole log with the snapshot: drop every stored entry, stale suffix included.
      storage.compact(Math.max(rd.snapshot.index, storage.lastIndex()));
    }
    if (rd.entries.length > 0 || rd.hardState)
      storage.persist(rd.hardState, rd.entries, mustSync(rd, this.persistedHardState));
    if (rd.hardState) this.persistedHardState = rd.hardState;

    // 2. Messages only after what they depend on is durable.
    for (const m of rd.messages) this.send(m);

    // 3. Committed work goes to the apply worker, in order. Applying (file I/O, possibly seconds for a
    // large batch) never holds up heartbeats and replication: the Ready loop moves on at once.
    if (rd.snapshot) this.applyQueue.push({ kind: "snapshot", meta: rd.snapshot });
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) {
        // The core applied the membership change itself at commit; addresses must be current now.
        this.confState = this.core.status().confState;
        this.emit("confChange", this.confState);
      }
      this.applyQueue.push({ kind: "entry", entry: e });
    }
    for (const rs of rd.readStates) {
      const waiter = this.reads.get(rs.context);
      if (waiter) {
        this.reads.delete(rs.context);
        waiter.resolve(rs.index);
      }
    }
    this.core.advance(rd);
    this.runApplyWorker();
  }

  /** Applies queued snapshots and entries strictly in log order, one at a time. */
  private runApplyWorker(): void {
    if (this.applying || this.applyQueue.length === 0) return;
    this.applying = true;
    void (async () => {
      try {
        // Let this turn's messages go out first (the transport flushes on setImmediate): a leader's new
        // commit index reaches the followers before its own apply, which may hold the thread for a while.
        await new Promise((r) => setImmediate(r));
        while (!this.stopped && this.applyQueue.length > 0) {
          const item = this.applyQueue[0]!;
          if (item.kind === "snapshot") {
            this.applyQueue.shift();
            await this.installSnapshot(item.meta);
          } else {
            await this.applyEntries(this.takeEntryRun());
          }
          this.releaseApplyWaiters();
          await this.maybeSnapshot();
        }
      } catch (err) {
        this.log("error", "applying committed entries failed; stopping node", { error: String(err) });
        await this.stop();
        this.emit("failed", err instanceof Error ? err : new Error(String(err)));
      } finally {
        this.applying = false;
      }
    })();
  }

  private async installSnapshot(meta: SnapshotMeta): Promise<void> {
    const opened = await this.opts.snapshots.open(meta.index);
    if (!opened) throw new Error(`received snapshot ${meta.index} is not in the snapshot store`);
    await this.opts.fsm.restore(opened.meta, opened.data);
    this.applied = meta.index;
    this.lastSnapshotIndex = meta.index;
    this.lastSnapshotMeta = meta;
    this.confState = meta.confState;
    this.log("info", "installed snapshot from the leader", { index: meta.index, term: meta.term });
    this.emit("snapshot", meta);
    this.emit("confChange", this.confState);
  }

  /** Consecutive queued entries (up to ~128 or 32 MiB), so the FSM can apply them as one batch. */
  private takeEntryRun(): Entry[] {
    const run: Entry[] = [];
    let bytes = 0;
    while (run.length < 128 && bytes < 32 * 1024 * 1024) {
      const next = this.applyQueue[0];
      if (next?.kind !== "entry") break;
      this.applyQueue.shift();
      run.push(next.entry);
      bytes += next.entry.data.length;
    }
    return run;
  }

  private async applyEntries(entries: Entry[]): Promise<void> {
    this.applyingRun = entries;
    try {
      await this.applyEntriesNow(entries);
    } finally {
      this.applyingRun = [];
    }
  }

  private async applyEntriesNow(entries: Entry[]): Promise<void> {
    const { fsm } = this.opts;
    const fresh = entries.filter((e) => e.index > this.applied);
    const forFsm = fresh.filter(
      (e) => e.type === EntryType.Normal && e.data.length > 0 && e.index > fsm.appliedIndex(),
    );
    const results = new Map<number, unknown>();
    if (forFsm.length > 1 && fsm.applyMany) {
      const rs = await fsm.applyMany(forFsm);
      forFsm.forEach((e, i) => {
        results.set(e.index, rs[i]);
      });
    } else {
      for (const e of forFsm) results.set(e.index, await fsm.apply(e));
    }
    for (const e of fresh) {
      this.applied = e.index;
      this.proposals.settle(e.index, e.term, results.get(e.index));
      this.emit("applied", e, results.get(e.index));
    }
  }

  private updateSoftState(ss: SoftState): void {
    const changed = ss.leader !== this.softState.leader || ss.role !== this.softState.role;
    // Pending proposals survive a leadership change: they settle when (if) their index is applied.
    this.softState = ss;
    if (changed) {
      this.log("info", "raft state changed", {
        role: ss.role,
        leader: ss.leader,
        term: this.core.status().term,
      });
      this.emit("softState", ss);
    }
  }

  private send(m: Message): void {
    const address = this.confState.addresses[m.to] ?? this.learnedAddresses.get(m.to);
    if (!address) return; // not (yet) a known member: Raft retries
    if (m.type === "snap") {
      void this.sendSnapshot(address, m);
      return;
    }
    this.opts.transport.send(address, m);
  }

  private async sendSnapshot(address: string, m: Message): Promise<void> {
    if (!m.snapshot || this.sendingSnapshot.has(m.to)) return;
    this.sendingSnapshot.add(m.to);
    try {
      const opened = await this.opts.snapshots.open(m.snapshot.index);
      if (!opened) throw new Error(`snapshot ${m.snapshot.index} not found`);
      await this.opts.transport.sendSnapshot(address, m, opened.data);
      if (!this.stopped) this.core.reportSnapshot(m.to, true);
    } catch (err) {
      this.log("warn", "sending snapshot failed", { to: m.to, error: String(err) });
      if (!this.stopped) this.core.reportSnapshot(m.to, false);
    } finally {
      this.sendingSnapshot.delete(m.to);
      this.kick();
    }
  }

  private releaseApplyWaiters(): void {
    if (this.readyIndexWaiters.length === 0) return;
    for (let i = this.readyIndexWaiters.length - 1; i >= 0; i--) {
      const w = this.readyIndexWaiters[i]!;
      if (w.index <= this.applied) {
        this.readyIndexWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /**
   * Snapshot the FSM every snapshotThreshold applied entries. Called by the apply worker between two
   * entries, so the FSM's capture is exactly the state at `applied`; persisting then runs in the
   * background. The log is compacted up to the previous snapshot, so a peer that lags by less than
   * one interval still catches up from the log rather than by InstallSnapshot.
   */
  private async maybeSnapshot(): Promise<void> {
    if (this.snapshotting || this.stopped) return;
    if (this.applied - this.lastSnapshotIndex < this.opts.snapshotThreshold) return;
    this.snapshotting = true;
    const index = this.applied;
    const meta: SnapshotMeta = { index, term: this.termAt(index), confState: this.confState };
    let fsmSnap: Awaited<ReturnType<FSM["snapshot"]>>;
    try {
      fsmSnap = await this.opts.fsm.snapshot();
    } catch (err) {
      this.snapshotting = false;
      this.log("error", "snapshot capture failed", { index, error: String(err) });
      return;
    }
    void this.persistSnapshot(meta, fsmSnap).finally(() => {
      this.snapshotting = false;
    });
  }

  private async persistSnapshot(
    meta: SnapshotMeta,
    fsmSnap: Awaited<ReturnType<FSM["snapshot"]>>,
  ): Promise<void> {
    try {
      const sink = await this.opts.snapshots.create(meta);
      try {
        await fsmSnap.persist(sink);
      } catch (err) {
        await sink.cancel();
        throw err;
      }
      const previous = this.lastSnapshotMeta;
      this.lastSnapshotIndex = meta.index;
      this.lastSnapshotMeta = meta;
      if (previous && !this.stopped) {
        this.core.compact(previous);
        this.opts.storage.compact(previous.index);
        this.log("debug", "log compacted", {
          upTo: previous.index,
          firstIndex: this.core.status().firstIndex,
        });
      }
      this.emit("snapshot", meta);
      this.log("info", "snapshot taken", { index: meta.index, term: meta.term });
    } catch (err) {
      this.log("error", "snapshot failed", { index: meta.index, error: String(err) });
    } finally {
      fsmSnap.release();
    }
  }

  private termAt(index: number): number {
    const entries = this.opts.storage.getEntries(index, index + 1);
    if (entries[0]) return entries[0].term;
    if (this.lastSnapshotMeta && this.lastSnapshotMeta.index === index) return this.lastSnapshotMeta.term;
    return this.core.status().term;
  }

  private async loadRestoreState(): Promise<RestoreState> {
    const { storage, snapshots } = this.opts;
    const hardState = storage.getHardState() ?? { term: 0, vote: null, commit: 0 };
    const metas = await snapshots.list();
    const snapshot: SnapshotMeta = metas[0] ?? { index: 0, term: 0, confState: emptyConfState() };
    const last = storage.lastIndex();
    const from = Math.max(snapshot.index + 1, storage.firstIndex());
    if (last >= snapshot.index + 1 && storage.firstIndex() > snapshot.index + 1) {
      throw new Error(
        `raft log starts at ${storage.firstIndex()} but the newest snapshot ends at ${snapshot.index}: state is inconsistent`,
      );
    }
    const entries = last >= from ? storage.getEntries(from, last + 1) : [];
    if (hardState.commit < snapshot.index) hardState.commit = snapshot.index;
    return { hardState, snapshot, entries };
  }

  private log(
    level: "debug" | "info" | "warn" | "error",
    msg: string,
    fields?: Record<string, unknown>,
  ): void {
    this.opts.log?.(level, msg, { node: this.id, ...fields });
  }
}

function hashSeed(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
