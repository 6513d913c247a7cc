import { bootstrapClusterState } from "../../src/raft/core/bootstrap.ts";
import { cloneConfState } from "../../src/raft/core/conf-change.ts";
import type { RaftCore } from "../../src/raft/core/raft-core.ts";
import {
  type ConfChange,
  emptyConfState,
  type Message,
  type NodeId,
  type RaftConfig,
  type RestoreState,
  type Role,
} from "../../src/raft/types.ts";
import { type CoreFactory, coreVariant } from "./core-variants.ts";
import { InvariantChecker, InvariantViolation } from "./invariant-checker.ts";
import { Prng } from "./prng.ts";
import { chaosProfile, type ScenarioProfile } from "./scenario-profile.ts";
import { HarnessError, SimDisk, type StoredSnapshot } from "./sim-disk.ts";
import { SimFsm } from "./sim-fsm.ts";
import { type InFlight, MessageQueue, Partitions } from "./sim-network.ts";
import { TraceLog } from "./trace-log.ts";

/** Virtual time units per tick; message delays are drawn in units, so delivery interleaves with ticks. */
export const TICK = 10;

export interface SimOptions {
  seed: number;
  nodes: number;
  variant?: string;
  profile?: ScenarioProfile;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** No random faults, loss or client traffic: for scripted scenarios that inject their own faults. */
  calm?: boolean;
  /** Receives every trace line as it happens (replay --trace). */
  onTrace?: (line: string) => void;
}

const emptyData = new Uint8Array(0);
const enc = new TextEncoder();

/** One simulated server: durable disk, and (while up) a core and an FSM. */
export class SimNode {
  core: RaftCore | null = null;
  fsm: SimFsm | null = null;
  role: Role = "follower";
  term = 0;
  incarnation = 0;
  /** Snapshot bytes that arrived beside the "snap" message being stepped. */
  incomingSnapshot: StoredSnapshot | null = null;

  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
    readonly compactEvery: number,
  ) {}

  get alive(): boolean {
    return this.core !== null;
  }
}

/** The deterministic cluster simulator: virtual clock, seeded network and faults, invariants every step. */
export class ClusterSim {
  readonly rng: Prng;
  readonly checker = new InvariantChecker();
  readonly profile: ScenarioProfile;
  readonly trace: TraceLog;
  private readonly factory: CoreFactory;
  private readonly nodeMap = new Map<NodeId, SimNode>();
  /** Nodes in creation order (stable iteration). */
  readonly nodeList: SimNode[] = [];
  /** Every id this run may ever use: the initial members plus two spares to add later. */
  readonly universe: NodeId[] = [];
  private readonly net = new MessageQueue();
  readonly partitions = new Partitions();
  private seq = 0;
  now = 0;
  ticks = 0;
  chaos = true;
  loss: number;
  dup: number;
  delayMax: number;
  longDelayChance: number;
  /** Drawn per seed around the profile's values, so timing relations vary between seeds. */
  readonly electionTick: number;
  readonly heartbeatTick: number;
  private proposals = 0;
  /** Faults scheduled against leaders that were just elected: [time, node id, incarnation]. */
  private reignEnds: Array<[number, NodeId, number]> = [];
  private reads = 0;
  readonly stats = { delivered: 0, dropped: 0, crashes: 0, snapshotsSent: 0, confChanges: 0, elections: 0 };

  constructor(readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.profile = opts.profile ?? chaosProfile;
    this.factory = coreVariant(opts.variant ?? "correct");
    this.trace = new TraceLog(opts.onTrace);
    this.checker.attachDisks((id) => this.nodeMap.get(id)?.disk);
    const p = this.profile;
    this.loss = this.rng.next() * p.lossMax;
    this.dup = this.rng.next() * p.dupMax;
    this.delayMax = this.rng.int(Math.max(1, Math.floor(p.delayMax / 3)), p.delayMax);
    this.longDelayChance = p.longDelayChance;
    this.heartbeatTick = this.rng.int(1, p.heartbeatTick + 1);
    this.electionTick = this.rng.int(p.electionTick, p.electionTick + 5);
    for (let i = 1; i <= opts.nodes + 2; i++) this.universe.push(`n${i}`);
    const members = this.universe.slice(0, opts.nodes).map((id) => ({ id, address: addressOf(id) }));
    for (const m of members) this.createNode(m.id, bootstrapClusterState(members));
    this.trace.add(
      this.now,
      `start seed=${opts.seed} nodes=${opts.nodes} variant=${opts.variant ?? "correct"} profile=${p.name} loss=${this.loss.toFixed(3)} dup=${this.dup.toFixed(3)} delayMax=${this.delayMax} electionTick=${this.electionTick} heartbeatTick=${this.heartbeatTick}`,
    );
    this.chaos = !opts.calm;
    for (const n of this.nodeList) this.start(n);
  }

  node(id: NodeId): SimNode | undefined {
    return this.nodeMap.get(id);
  }

  private createNode(id: NodeId, restore: RestoreState): SimNode {
    const compactEvery = this.rng.int(this.profile.compactMin, this.profile.compactMax);
    const n = new SimNode(id, new SimDisk(restore, emptyData), compactEvery);
    this.nodeMap.set(id, n);
    this.nodeList.push(n);
    return n;
  }

  private config(id: NodeId): RaftConfig {
    const p = this.profile;
    return {
      id,
      electionTick: this.electionTick,
      heartbeatTick: this.heartbeatTick,
      preVote: this.opts.preVote ?? true,
      checkQuorum: this.opts.checkQuorum ?? true,
      maxSizePerMsg: p.maxSizePerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
      random: () => this.rng.next(),
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Node lifecycle

  start(n: SimNode): void {
    const core = this.factory(this.config(n.id), n.disk.restoreState());
    n.core = core;
    n.fsm = new SimFsm(n.disk.snapshot.meta, n.disk.snapshot.data);
    n.role = "follower";
    n.term = n.disk.hardState.term;
    this.checker.onStart(n.id, n.disk, core.status().commit);
    this.trace.add(
      this.now,
      `start ${n.id} inc=${n.incarnation} term=${n.term} snap=${n.disk.snapshotIndex()} last=${n.disk.lastIndex()} commit=${n.disk.hardState.commit}`,
    );
    this.drain(n);
  }

  crash(n: SimNode): void {
    n.core = null;
    n.fsm = null;
    n.incomingSnapshot = null;
    n.role = "follower";
    n.incarnation++;
    this.stats.crashes++;
    this.checker.onCrash(n.id);
    this.trace.add(this.now, `crash ${n.id}`);
  }

  // -------------------------------------------------------------------------------------------------
  // The Ready loop: persist, send, apply, advance (types.ts contract), checking invariants at each stage.

  drain(n: SimNode): void {
    const core = n.core;
    if (!core) return;
    const disk = n.disk;
    const ck = this.checker;
    while (core.hasReady()) {
      const rd = core.ready();
      const oldCommit = disk.hardState.commit;
      let installed: StoredSnapshot | null = null;
      if (rd.snapshot) {
        const inc = n.incomingSnapshot;
        if (!inc || inc.meta.index !== rd.snapshot.index) {
          throw new HarnessError(
            `${n.id}: Ready.snapshot ${rd.snapshot.index} without matching snapshot data`,
          );
        }
        installed = { meta: rd.snapshot, data: inc.data };
        disk.installSnapshot(installed);
        n.incomingSnapshot = null;
        ck.onSnapshotInstalled(n.id, rd.snapshot);
        this.trace.add(this.now, `install-snapshot ${n.id} ${rd.snapshot.index}@t${rd.snapshot.term}`);
      }
      if (rd.entries.length > 0) {
        disk.append(rd.entries);
        ck.onEntriesPersisted(n.id, disk, rd.entries);
      }
      if (rd.hardState) {
        ck.onHardState(n.id, rd.hardState);
        disk.hardState = { ...rd.hardState };
        n.term = rd.hardState.term;
      }
      const newCommit = disk.hardState.commit;
      if (newCommit > oldCommit) ck.onCommitAdvance(n.id, disk, oldCommit, newCommit, disk.hardState.term);
      if (rd.softState && rd.softState.role !== n.role) {
        n.role = rd.softState.role;
        if (n.role === "leader") this.stats.elections++;
        this.trace.add(this.now, `role ${n.id} ${n.role} t${disk.hardState.term} last=${disk.lastIndex()}`);
        ck.onRole(n.id, n.role === "leader", disk.hardState.term, disk);
        if (n.role === "leader" && this.chaos && this.rng.chance(this.profile.shortReignChance)) {
          this.reignEnds.push([
            this.now + this.rng.int(0, this.profile.shortReignMax * TICK),
            n.id,
            n.incarnation,
          ]);
        }
      }
      for (const m of rd.messages) this.send(n, m);
      if (installed) {
        n.fsm = new SimFsm(installed.meta, installed.data);
        ck.onFsmRestored(n.id, installed.meta.index, n.fsm.hash);
      }
      const fsm = n.fsm!;
      for (const e of rd.committedEntries) {
        fsm.apply(e);
        ck.onApply(n.id, e, fsm.hash);
      }
      for (const rs of rd.readStates) ck.onReadState(n.id, rs);
      core.advance(rd);
    }
    this.maybeCompact(n);
  }

  /** Snapshot the FSM at its applied index and let the core drop the covered log prefix. */
  private maybeCompact(n: SimNode): void {
    const fsm = n.fsm;
    const core = n.core;
    if (!fsm || !core) return;
    if (fsm.applied - n.disk.snapshotIndex() < n.compactEvery) return;
    const term = n.disk.termAt(fsm.applied);
    if (term === undefined) throw new HarnessError(`${n.id}: applied ${fsm.applied} is not on disk`);
    const meta = { index: fsm.applied, term, confState: cloneConfState(fsm.conf) };
    n.disk.compact({ meta, data: fsm.snapshotData() });
    core.compact(meta);
    this.checker.onCompacted(n.id, meta.index);
    this.trace.add(this.now, `compact ${n.id} ${meta.index}@t${term}`);
  }

  // -------------------------------------------------------------------------------------------------
  // Network

  private send(from: SimNode, m: Message): void {
    let snapshot: StoredSnapshot | null = null;
    if (m.type === "snap") {
      snapshot = from.disk.snapshot;
      if (!m.snapshot || snapshot.meta.index !== m.snapshot.index) {
        throw new HarnessError(
          `${from.id}: snap message ${m.snapshot?.index} does not match stored snapshot ${snapshot.meta.index}`,
        );
      }
      this.stats.snapshotsSent++;
    }
    let lost = this.chaos && this.rng.chance(this.loss);
    if (!lost && this.chaos && m.type === "app" && this.profile.dropNewTermAppendChance > 0) {
      // Figure-8 bias: a new leader's own entries rarely get through, older ones do (partial replication).
      const carriesOwnTerm = m.entries.some((e) => e.term === m.term);
      lost = carriesOwnTerm && this.rng.chance(this.profile.dropNewTermAppendChance);
    }
    this.enqueue(from, m, snapshot, lost);
    if (this.chaos && !lost && this.rng.chance(this.dup)) this.enqueue(from, m, snapshot, false);
  }

  private enqueue(from: SimNode, msg: Message, snapshot: StoredSnapshot | null, lost: boolean): void {
    let delay = this.rng.int(1, this.delayMax);
    if (this.chaos && this.rng.chance(this.longDelayChance))
      delay = this.rng.int(this.delayMax, 6 * this.delayMax);
    const f: InFlight = {
      at: this.now + delay,
      seq: this.seq++,
      msg,
      snapshot,
      fromIncarnation: from.incarnation,
      lost,
    };
    this.net.push(f);
  }

  private deliver(f: InFlight): void {
    const m = f.msg;
    const to = this.nodeMap.get(m.to);
    const sender = this.nodeMap.get(m.from);
    const from = sender && sender.incarnation === f.fromIncarnation ? sender : undefined;
    let why = "";
    if (f.lost) why = "lost";
    else if (!to?.core) why = "down";
    else if (this.partitions.isBlocked(m.from, m.to)) why = "partitioned";
    if (why !== "") {
      this.stats.dropped++;
      this.trace.addMessage(this.now, "drop", m, why);
      // The sender's transport notices a failed snapshot stream or an unreachable peer.
      if (from?.core && (m.type === "snap" || why !== "lost")) {
        if (m.type === "snap") from.core.reportSnapshot(m.to, false);
        else if (m.type === "app") from.core.reportUnreachable(m.to);
        this.drain(from);
      }
      return;
    }
    this.stats.delivered++;
    this.trace.addMessage(this.now, "recv", m, "");
    const target = to!;
    if (m.type === "snap") target.incomingSnapshot = f.snapshot;
    target.core!.step(m);
    this.drain(target);
    target.incomingSnapshot = null;
    if (m.type === "snap" && from?.core) {
      from.core.reportSnapshot(m.to, true);
      this.drain(from);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Time

  /** Deliver everything due before the next tick, then tick every live node (and maybe inject chaos). */
  tick(): void {
    const tickAt = (this.ticks + 1) * TICK;
    for (let f = this.net.peek(); f && f.at < tickAt; f = this.net.peek()) {
      this.net.pop();
      this.now = f.at;
      if (this.chaos) this.endShortReigns();
      this.deliver(f);
    }
    this.now = tickAt;
    if (this.chaos) this.endShortReigns();
    this.ticks++;
    this.trace.add(this.now, `tick ${this.ticks}`, true);
    if (this.chaos) this.chaosStep();
    for (const n of this.nodeList) {
      if (!n.core) continue;
      n.core.tick();
      this.drain(n);
    }
    if (this.ticks % 50 === 0) this.fullCheck();
  }

  runTicks(count: number): void {
    for (let i = 0; i < count; i++) this.tick();
  }

  /** Non-incremental cross-checks: all persisted logs pairwise, and the roles we track vs the cores'. */
  fullCheck(): void {
    this.checker.checkAllLogs(this.nodeList.map((n) => [n.id, n.disk]));
    for (const n of this.nodeList) {
      if (!n.core) continue;
      const st = n.core.status();
      if (st.role !== n.role || st.term !== n.term) {
        throw new HarnessError(
          `${n.id}: Ready reported ${n.role}/t${n.term} but status() says ${st.role}/t${st.term}`,
        );
      }
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Faults and client actions

  private alive(): SimNode[] {
    return this.nodeList.filter((n) => n.core !== null);
  }

  leaders(): SimNode[] {
    return this.nodeList.filter((n) => n.core !== null && n.role === "leader");
  }

  /** The live leader with the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.leaders()) if (!best || n.term > best.term) best = n;
    return best;
  }

  private chaosStep(): void {
    const p = this.profile;
    const rng = this.rng;
    if (rng.chance(p.partitionChance)) this.randomPartition();
    if (this.partitions.active && rng.chance(p.healChance)) this.healPartitions();
    if (rng.chance(p.crashChance)) {
      const up = this.alive();
      if (up.length > 1) {
        // Crashing the leader is the most interesting fault: favour it.
        const leaders = this.leaders();
        this.crash(leaders.length > 0 && rng.chance(0.5) ? rng.pick(leaders) : rng.pick(up));
      }
    }
    if (rng.chance(p.restartChance)) {
      const down = this.nodeList.filter((n) => !n.core);
      if (down.length > 0) this.start(rng.pick(down));
    }
    if (rng.chance(p.proposeChance)) {
      const k = rng.int(1, p.proposeBurst);
      for (let i = 0; i < k; i++) this.proposeRandom();
    }
    if (rng.chance(p.confChangeChance)) this.randomConfChange();
    if (rng.chance(p.transferChance)) this.randomTransfer();
    if (rng.chance(p.campaignChance)) {
      const up = this.alive();
      if (up.length > 0) {
        const n = rng.pick(up);
        this.trace.add(this.now, `campaign ${n.id}`);
        n.core!.campaign();
        this.drain(n);
      }
    }
    if (rng.chance(p.readChance)) this.randomRead();
  }

  /** A leader elected a moment ago loses its seat: crashed or cut off from everyone. */
  private endShortReigns(): void {
    if (this.reignEnds.length === 0) return;
    const due = this.reignEnds.filter(([t]) => t <= this.now);
    if (due.length === 0) return;
    this.reignEnds = this.reignEnds.filter(([t]) => t > this.now);
    for (const [, id, inc] of due) {
      const n = this.nodeMap.get(id)!;
      if (!n.core || n.incarnation !== inc) continue;
      const kind = this.rng.int(0, 2);
      if (kind === 0) {
        this.crash(n);
      } else if (kind === 1) {
        // One-way: it still hears acknowledgements but nothing it sends arrives any more.
        for (const x of this.nodeList) if (x.id !== id) this.partitions.block(id, x.id);
        this.trace.add(this.now, `partition mute-leader ${id}`);
      } else {
        this.partitions.split(
          [id],
          this.nodeList.map((x) => x.id).filter((x) => x !== id),
        );
        this.trace.add(this.now, `partition isolate-leader ${id}`);
      }
    }
  }

  private randomPartition(): void {
    const rng = this.rng;
    const ids = this.nodeList.map((n) => n.id);
    const kind = rng.int(0, 2);
    if (kind === 0) {
      const lone = rng.pick(ids);
      this.partitions.split(
        [lone],
        ids.filter((x) => x !== lone),
      );
    } else if (kind === 1) {
      const a: NodeId[] = [];
      const b: NodeId[] = [];
      for (const id of ids) (rng.chance(0.5) ? a : b).push(id);
      this.partitions.split(a, b);
    } else {
      for (const x of ids) for (const y of ids) if (x !== y && rng.chance(0.2)) this.partitions.block(x, y);
    }
    this.trace.add(
      this.now,
      `partition ${["isolate", "split", "asymmetric"][kind]} ${this.partitions.describe()}`,
    );
  }

  healPartitions(): void {
    this.partitions.healAll();
    this.trace.add(this.now, "heal partitions");
  }

  /** A client sends a write to some node that believes it leads (stale leaders included). */
  proposeRandom(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const n = this.rng.pick(leaders);
    const data = enc.encode(`w${this.opts.seed}.${this.proposals++}`);
    const r = n.core!.propose(data);
    this.trace.add(this.now, `propose ${n.id} ${r.ok ? `-> ${r.index}@t${r.term}` : r.reason}`);
    this.drain(n);
  }

  private randomRead(): void {
    const up = this.alive();
    if (up.length === 0) return;
    const n = this.rng.pick(up);
    const ctx = `r${this.reads++}`;
    this.checker.onReadIssued(ctx);
    this.trace.add(this.now, `read ${n.id} ${ctx} floor=${this.checker.maxCommitted}`);
    n.core!.readIndex(ctx);
    this.drain(n);
  }

  private randomTransfer(): void {
    const l = this.leader();
    if (!l) return;
    const voters = l.core!.status().confState.voters.filter((v) => v !== l.id);
    if (voters.length === 0) return;
    const to = this.rng.pick(voters);
    this.trace.add(this.now, `transfer ${l.id} -> ${to}`);
    l.core!.transferLeadership(to);
    this.drain(l);
  }

  /** Remove a voter, add a node back as learner, promote a learner, or add a brand-new node. */
  private randomConfChange(): void {
    const l = this.leader();
    if (!l) return;
    const cs = l.core!.status().confState;
    const options: ConfChange[] = [];
    const members = new Set([...cs.voters, ...cs.learners]);
    if (cs.voters.length >= 3) for (const v of cs.voters) options.push({ type: "remove", nodeId: v });
    for (const x of cs.learners) {
      options.push({ type: "promote", nodeId: x });
      options.push({ type: "remove", nodeId: x });
    }
    for (const id of this.universe) {
      if (members.has(id)) continue;
      options.push({ type: "addLearner", nodeId: id, address: addressOf(id) });
      if (cs.voters.length < this.opts.nodes + 1)
        options.push({ type: "addVoter", nodeId: id, address: addressOf(id) });
    }
    if (options.length === 0) return;
    const cc = this.rng.pick(options);
    const r = l.core!.proposeConfChange(cc);
    this.trace.add(
      this.now,
      `conf ${l.id} ${cc.type} ${cc.nodeId} ${r.ok ? `-> ${r.index}@t${r.term}` : r.reason}`,
    );
    if (r.ok) {
      this.stats.confChanges++;
      if (!this.nodeMap.has(cc.nodeId)) {
        // A brand-new server: empty disk, learns everything from the leader.
        const fresh: RestoreState = {
          hardState: { term: 0, vote: null, commit: 0 },
          snapshot: { index: 0, term: 0, confState: emptyConfState() },
          entries: [],
        };
        this.start(this.createNode(cc.nodeId, fresh));
      }
    }
    this.drain(l);
  }

  // -------------------------------------------------------------------------------------------------
  // Liveness

  /** End of chaos: heal every link, restart every server, perfect network from now on. */
  healAll(): void {
    this.chaos = false;
    this.partitions.healAll();
    this.trace.add(this.now, "heal everything; faults stop");
    for (const n of this.nodeList) if (!n.core) this.start(n);
  }

  /**
   * After healing, within `maxTicks` a leader must exist and a fresh proposal must commit and apply on
   * every live member of the leader's configuration.
   */
  checkLiveness(maxTicks: number): number {
    let probe: { index: number; term: number } | null = null;
    for (let t = 0; t < maxTicks; t++) {
      this.tick();
      const l = this.leader();
      if (!l) continue;
      if (probe) {
        const ct = this.checker.committedTermAt(probe.index);
        // Overwritten before it committed (a new leader without it): propose again.
        if (
          (ct !== undefined && ct !== probe.term) ||
          (probe.index > l.disk.snapshotIndex() && l.disk.termAt(probe.index) !== probe.term)
        ) {
          probe = null;
        }
      }
      if (!probe) {
        const r = l.core!.propose(enc.encode(`liveness${this.opts.seed}`));
        this.drain(l);
        if (r.ok) {
          probe = { index: r.index, term: r.term };
          this.trace.add(this.now, `liveness propose ${l.id} -> ${r.index}@t${r.term}`);
        }
        continue;
      }
      if (this.checker.committedTermAt(probe.index) !== probe.term) continue;
      const cs = l.core!.status().confState;
      const members = [...cs.voters, ...cs.learners];
      const target = probe.index;
      if (members.every((id) => (this.nodeMap.get(id)?.fsm?.applied ?? -1) >= target)) {
        this.trace.add(this.now, `liveness ok after ${t + 1} ticks`);
        return t + 1;
      }
    }
    const l = this.leader();
    const state = this.nodeList
      .map(
        (n) =>
          `${n.id}:${n.core ? `${n.role}/t${n.term}/c${n.disk.hardState.commit}/a${n.fsm?.applied}` : "down"}`,
      )
      .join(" ");
    throw new InvariantViolation(
      "liveness",
      `no ${l ? "commit of a new proposal on every member" : "leader"} within ${maxTicks} ticks after healing (probe=${probe ? probe.index : "none"}; ${state})`,
    );
  }

  /** The whole randomized run: chaos, then heal and require progress, then a final full log check. */
  run(): void {
    this.runTicks(this.profile.chaosTicks);
    this.healAll();
    this.checkLiveness(this.profile.livenessTicks);
    this.fullCheck();
  }
}

export function addressOf(id: NodeId): string {
  return `sim:${id}`;
}
