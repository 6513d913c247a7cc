import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  emptyMessage,
  encodeConfChange,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type PeerProgress,
  type ProposeResult,
  type RaftConfig,
  type ReadState,
  type Ready,
  type RestoreState,
  type Role,
  type SnapshotMeta,
  type SoftState,
  type Status,
} from "../types.ts";
import { applyConfChangeTo, cloneConfState, confChangeError } from "./conf-change.ts";
import { Progress } from "./progress.ts";
import { RaftLog } from "./raft-log.ts";
import { ReadOnly } from "./read-only.ts";

export { bootstrapClusterState, bootstrapState } from "./bootstrap.ts";

type CampaignKind = "preElection" | "election" | "transfer";
type VoteResult = "won" | "lost" | "pending";

const EMPTY_DATA = new Uint8Array(0);

/**
 * A pure, deterministic Raft state machine (etcd-io/raft style). Inputs: tick(), step(message), propose(),
 * and the other methods; outputs come only through ready(). No clocks, I/O or ambient randomness.
 */
export class RaftCore {
  readonly id: NodeId;
  private readonly cfg: RaftConfig;
  protected term: number;
  private vote: NodeId | null;
  private lead: NodeId | null = null;
  private role: Role = "follower";
  private readonly log: RaftLog;
  private confState: ConfState;

  /** Leader only: replication progress of every member, self included. */
  private readonly prs = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private ticks = 0;

  private leadTransferee: NodeId | null = null;
  /** Index of the latest conf change the leader appended (or lastIndex at election, conservatively). */
  private pendingConfIndex = 0;
  private readonly readOnly = new ReadOnly();
  /** Read requests that arrived before the leader committed an entry of its term. */
  private pendingReadIndex: Message[] = [];
  /** Appends/commit progress to broadcast at the next ready(): batches many proposals per message. */
  private broadcastPending = false;
  /** A ReadIndex request is waiting for its heartbeat round (sent once per Ready, see handleReadIndex). */
  private readHeartbeatPending = false;
  /** Snapshot received from the leader, to hand to the driver in the next Ready. */
  private receivedSnapshot: SnapshotMeta | null = null;

  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(config: RaftConfig, restore: RestoreState) {
    if (config.heartbeatTick <= 0 || config.electionTick <= config.heartbeatTick) {
      throw new Error("raft config: need 0 < heartbeatTick < electionTick");
    }
    this.id = config.id;
    this.cfg = config;
    const hs = restore.hardState;
    this.log = new RaftLog(restore.snapshot, restore.entries, hs.commit);
    this.term = hs.term;
    this.vote = hs.vote;
    // Conf changes apply when committed: replay the committed ones after the snapshot.
    this.confState = cloneConfState(restore.snapshot.confState);
    for (let i = this.log.firstIndex(); i <= this.log.committed; i++) {
      const e = this.log.entry(i);
      if (e && e.type === EntryType.ConfChange) {
        this.confState = applyConfChangeTo(this.confState, decodeConfChange(e.data));
      }
    }
    this.prevHard = { term: this.term, vote: this.vote, commit: this.log.committed };
    this.prevSoft = { leader: null, role: "follower" };
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------------------------------------
  // Rules a test subclass may override to build a deliberately broken variant.

  /** Commit rule (Raft §5.4.2): a leader commits by counting replicas only entries of its own term. */
  protected canCommit(_index: number, term: number): boolean {
    return term === this.term;
  }

  /** Vote restriction (Raft §5.4.1): grant only to a candidate whose log is at least as up to date. */
  protected logIsUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.log.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.log.lastIndex());
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    this.ticks++;
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  campaign(): void {
    this.hup(this.cfg.preVote ? "preElection" : "election");
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== "leader") return { ok: false, reason: "not-leader", leader: this.lead };
    if (this.leadTransferee !== null) return { ok: false, reason: "transfer-in-progress", leader: this.lead };
    const e = this.appendEntry(EntryType.Normal, data);
    return { ok: true, index: e.index, term: e.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== "leader") return { ok: false, reason: "not-leader", leader: this.lead };
    if (this.leadTransferee !== null) return { ok: false, reason: "transfer-in-progress", leader: this.lead };
    if (confChangeError(this.confState, cc) !== null)
      return { ok: false, reason: "invalid", leader: this.lead };
    // One at a time, and only once an entry of this term committed (fixes the single-server change bug).
    if (this.pendingConfIndex > this.log.committed || !this.committedEntryInCurrentTerm()) {
      return { ok: false, reason: "conf-change-pending", leader: this.lead };
    }
    const e = this.appendEntry(EntryType.ConfChange, encodeConfChange(cc));
    this.pendingConfIndex = e.index;
    return { ok: true, index: e.index, term: e.term };
  }

  readIndex(context: string): void {
    const req = emptyMessage("readIndex", this.id, this.id, 0);
    req.context = context;
    if (this.role === "leader") {
      this.handleReadIndex(req);
    } else if (this.role === "follower" && this.lead !== null) {
      req.to = this.lead;
      this.send(req);
    }
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== "leader") return;
    if (this.leadTransferee !== null) {
      if (this.leadTransferee === to) return;
      this.leadTransferee = null;
    }
    if (to === this.id) return;
    const pr = this.prs.get(to);
    if (!pr?.voter) return;
    // The transfer must finish within one election timeout, else it is aborted (tickHeartbeat).
    this.electionElapsed = 0;
    this.leadTransferee = to;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.log.snapshot.index) return;
    if (meta.index > this.log.applied) {
      throw new Error(`raft: compact(${meta.index}) beyond applied index ${this.log.applied}`);
    }
    const t = this.log.term(meta.index);
    if (t !== meta.term) throw new Error(`raft: compact(${meta.index}) term ${meta.term} != log term ${t}`);
    this.log.compact({ index: meta.index, term: meta.term, confState: cloneConfState(meta.confState) });
  }

  reportUnreachable(id: NodeId): void {
    if (this.role !== "leader") return;
    const pr = this.prs.get(id);
    if (pr && pr.state === "replicate") pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.role !== "leader") return;
    const pr = this.prs.get(id);
    if (pr?.state !== "snapshot") return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the next heartbeat response before probing again.
    pr.probeSent = true;
  }

  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term === 0) {
      // Only forwarded read requests travel without a term (etcd treats them as local messages).
      if (m.type !== "readIndex") return;
    } else if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        // Leader stickiness: while we hear from a live leader, ignore disruptive candidates.
        const inLease =
          this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTick;
        if (!m.transfer && inLease) return;
      }
      if (m.type === "preVote") {
        // Never change term for a pre-vote.
      } else if (m.type === "preVoteResp" && !m.reject) {
        // A granted pre-vote carries the future term; we bump it only when we win the pre-election.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === "app" || m.type === "heartbeat")) {
        // A stale leader (e.g. healed from a partition) learns the new term and steps down.
        this.send(emptyMessage("appResp", this.id, m.from, this.term));
      } else if (m.type === "preVote") {
        const resp = emptyMessage("preVoteResp", this.id, m.from, this.term);
        resp.reject = true;
        this.send(resp);
      }
      return;
    }

    if (m.type === "vote" || m.type === "preVote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "preCandidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  hasReady(): boolean {
    this.flushBroadcast();
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.receivedSnapshot !== null ||
      this.log.unstable <= this.log.lastIndex() ||
      this.log.hasNextCommitted() ||
      this.softChanged() ||
      this.hardChanged()
    );
  }

  ready(): Ready {
    this.flushBroadcast();
    const soft = this.softChanged() ? { leader: this.lead, role: this.role } : null;
    const hard = this.hardChanged() ? { term: this.term, vote: this.vote, commit: this.log.committed } : null;
    const committedEntries = this.log.nextCommitted();
    const rd: Ready = {
      softState: soft,
      hardState: hard,
      entries: this.log.unstableEntries(),
      snapshot: this.receivedSnapshot,
      committedEntries,
      messages: this.msgs,
      readStates: this.readStates,
    };
    // Accept: everything in rd is now the driver's; it is never handed out again.
    if (soft) this.prevSoft = soft;
    if (hard) this.prevHard = hard;
    this.log.markUnstableHandedOut();
    if (committedEntries.length > 0) this.log.applying = committedEntries[committedEntries.length - 1]!.index;
    this.receivedSnapshot = null;
    this.msgs = [];
    this.readStates = [];
    return rd;
  }

  advance(rd: Ready): void {
    if (rd.snapshot) this.log.appliedTo(rd.snapshot.index);
    const n = rd.committedEntries.length;
    if (n > 0) this.log.appliedTo(rd.committedEntries[n - 1]!.index);
  }

  status(): Status {
    const progress: PeerProgress[] = [];
    if (this.role === "leader") {
      for (const [id, pr] of this.prs) {
        progress.push({
          id,
          address: this.confState.addresses[id] ?? "",
          voter: pr.voter,
          match: pr.match,
          next: pr.next,
          state: pr.state,
          ticksSinceContact: id === this.id ? 0 : this.ticks - pr.lastContactTick,
        });
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      confState: cloneConfState(this.confState),
      progress,
      leadTransferee: this.leadTransferee,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTick + Math.floor(this.cfg.random() * this.cfg.electionTick);
    this.leadTransferee = null;
    this.votes.clear();
    this.prs.clear();
    this.pendingConfIndex = 0;
    this.readOnly.reset();
    this.pendingReadIndex = [];
    this.broadcastPending = false;
    this.readHeartbeatPending = false;
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = "follower";
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // No term change and no vote: a pre-election must not disturb anyone if it fails.
    this.role = "preCandidate";
    this.lead = null;
    this.votes.clear();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    const next = this.log.lastIndex() + 1;
    for (const v of this.confState.voters)
      this.prs.set(v, new Progress(next, this.cfg.maxInflightMsgs, true));
    for (const l of this.confState.learners) {
      this.prs.set(l, new Progress(next, this.cfg.maxInflightMsgs, false));
    }
    const self = this.prs.get(this.id);
    if (self) {
      self.match = this.log.lastIndex();
      self.becomeReplicate();
      self.recentActive = true;
    }
    for (const pr of this.prs.values()) pr.lastContactTick = this.ticks;
    // An uncommitted conf change from an earlier term may sit in the log: be conservative.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntry(EntryType.Normal, EMPTY_DATA);
  }

  private promotable(): boolean {
    return this.confState.voters.includes(this.id);
  }

  private hup(kind: CampaignKind): void {
    if (this.role === "leader") return;
    if (!this.promotable()) return;
    this.startCampaign(kind);
  }

  private startCampaign(kind: CampaignKind): void {
    let type: MessageType;
    let term: number;
    if (kind === "preElection") {
      this.becomePreCandidate();
      type = "preVote";
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = "vote";
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      if (kind === "preElection") this.startCampaign("election");
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const v of this.confState.voters) {
      if (v === this.id) continue;
      const m = emptyMessage(type, this.id, v, term);
      m.index = lastIndex;
      m.logTerm = lastTerm;
      m.transfer = kind === "transfer";
      this.send(m);
    }
  }

  private poll(from: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const voters = this.confState.voters;
    let yes = 0;
    let no = 0;
    for (const v of voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = quorum(voters.length);
    if (yes >= q) return "won";
    if (no > voters.length - q) return "lost";
    return "pending";
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.cfg.preVote ? "preElection" : "election");
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
      }
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** CheckQuorum: did a quorum of voters talk to us since the last round? Resets the marks. */
  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.confState.voters) {
      const pr = this.prs.get(v);
      if (v === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.prs) pr.recentActive = id === this.id;
    return active >= quorum(this.confState.voters.length);
  }

  // ---------------------------------------------------------------------------------------------
  // Message handling

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === "preVote" && m.term > this.term);
    const respType: MessageType = m.type === "vote" ? "voteResp" : "preVoteResp";
    if (canVote && this.logIsUpToDate(m.index, m.logTerm)) {
      this.send(emptyMessage(respType, this.id, m.from, m.term));
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const resp = emptyMessage(respType, this.id, m.from, this.term);
      resp.reject = true;
      this.send(resp);
    }
  }

  private stepLeader(m: Message): void {
    if (m.type === "readIndex") {
      this.handleReadIndex(m);
      return;
    }
    const pr = this.prs.get(m.from);
    if (!pr) {
      if (m.type === "appResp" && !m.reject) this.tellRemovedNodeCommit(m);
      return;
    }
    if (m.type === "appResp") {
      pr.recentActive = true;
      pr.lastContactTick = this.ticks;
      this.handleAppendResponse(m, pr);
    } else if (m.type === "heartbeatResp") {
      pr.recentActive = true;
      pr.lastContactTick = this.ticks;
      this.handleHeartbeatResponse(m, pr);
    }
  }

  /**
   * A node removed while its ack was in flight: its log matches ours up to m.index (it accepted our append
   * in this term), so tell it the commit index; committing its removal is how it learns to stay quiet.
   */
  private tellRemovedNodeCommit(m: Message): void {
    const hb = emptyMessage("heartbeat", this.id, m.from, this.term);
    hb.commit = Math.min(m.index, this.log.committed);
    this.send(hb);
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "app":
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case "voteResp":
      case "preVoteResp": {
        const mine = this.role === "candidate" ? "voteResp" : "preVoteResp";
        if (m.type !== mine) return;
        const res = this.poll(m.from, !m.reject);
        if (res === "won") {
          if (this.role === "preCandidate") this.startCampaign("election");
          else this.becomeLeader();
        } else if (res === "lost") {
          this.becomeFollower(this.term, null);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "app":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case "timeoutNow":
        this.hup("transfer");
        return;
      case "readIndex":
        if (this.lead === null) return;
        this.send({ ...m, to: this.lead });
        return;
      case "readIndexResp":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    const committed = this.log.committed;
    if (m.index < committed) {
      const resp = emptyMessage("appResp", this.id, m.from, this.term);
      resp.index = committed;
      this.send(resp);
      return;
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = m.index + m.entries.length;
      const conflict = this.log.findConflict(m.entries);
      if (conflict !== 0) {
        const first = m.entries[0]!.index;
        this.log.truncateAndAppend(conflict === first ? m.entries : m.entries.slice(conflict - first));
      }
      this.commitTo(Math.min(m.commit, lastNew));
      const resp = emptyMessage("appResp", this.id, m.from, this.term);
      resp.index = lastNew;
      this.send(resp);
      return;
    }
    // Mismatch: hint the leader past a whole conflicting term (etcd findConflictByTerm).
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    const resp = emptyMessage("appResp", this.id, m.from, this.term);
    resp.index = m.index;
    resp.reject = true;
    resp.rejectHint = hint.index;
    resp.logTerm = hint.term;
    this.send(resp);
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this never exceeds entries we share with it.
    this.commitTo(Math.min(m.commit, this.log.lastIndex()));
    const resp = emptyMessage("heartbeatResp", this.id, m.from, this.term);
    resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    const resp = emptyMessage("appResp", this.id, m.from, this.term);
    if (s && this.restoreSnapshot(s)) {
      resp.index = this.log.lastIndex();
    } else {
      resp.index = this.log.committed;
    }
    this.send(resp);
  }

  private restoreSnapshot(s: SnapshotMeta): boolean {
    if (s.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.index, s.term)) {
      // We already have the snapshot's last entry: just fast-forward the commit index.
      this.commitTo(s.index);
      return false;
    }
    const meta = { index: s.index, term: s.term, confState: cloneConfState(s.confState) };
    this.log.restore(meta);
    this.confState = cloneConfState(s.confState);
    this.receivedSnapshot = meta;
    return true;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let probe = m.rejectHint;
      if (m.logTerm > 0) probe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, probe)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    // A probe answered at exactly our match point also proves the follower's log matches ours.
    const probeConfirmed = pr.state === "probe" && pr.match === m.index;
    if (pr.maybeUpdate(m.index) || probeConfirmed) {
      if (pr.state === "probe") {
        pr.becomeReplicate();
      } else if (
        pr.state === "snapshot" &&
        (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex())
      ) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === "replicate") {
        pr.inflights.freeLE(m.index);
      }
      this.maybeCommit();
      if (this.role !== "leader") return; // a committed self-removal stepped us down
      while (this.sendAppend(m.from, false)) {
        // Pipelining: fill the in-flight window.
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    // An empty append at next-1 also uncovers lost appends (the follower rejects the gap).
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);

    if (m.context === "") return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks || !this.hasVoterQuorum(acks)) return;
    for (const st of this.readOnly.advance(m.context)) this.answerRead(st.req, st.index);
  }

  private handleReadIndex(m: Message): void {
    if (!this.committedEntryInCurrentTerm()) {
      // The leader does not know the latest commit index until it commits an entry of its term (§6.4).
      this.pendingReadIndex.push(m);
      return;
    }
    const voters = this.confState.voters;
    if (voters.length === 1 && voters[0] === this.id) {
      this.answerRead(m, this.log.committed);
      return;
    }
    if (!this.readOnly.add(this.log.committed, m)) return;
    this.readOnly.recvAck(this.id, m.context);
    // One heartbeat round, sent when the driver next takes a Ready, confirms every request queued by then:
    // it carries the last one's context, and an ack of a context confirms all before it (ReadOnly).
    // A burst of reads (each OPEN of the file API) costs one round instead of one per read.
    this.readHeartbeatPending = true;
  }

  private answerRead(req: Message, index: number): void {
    if (req.from === this.id) {
      this.readStates.push({ index, context: req.context });
      return;
    }
    const resp = emptyMessage("readIndexResp", this.id, req.from, this.term);
    resp.index = index;
    resp.context = req.context;
    this.send(resp);
  }

  private hasVoterQuorum(ids: Set<NodeId>): boolean {
    let n = 0;
    for (const v of this.confState.voters) if (ids.has(v)) n++;
    return n >= quorum(this.confState.voters.length);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  // ---------------------------------------------------------------------------------------------
  // Log and commit

  private appendEntry(type: EntryType, data: Uint8Array): Entry {
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append(e);
    this.prs.get(this.id)?.maybeUpdate(e.index);
    this.broadcastPending = true;
    this.maybeCommit();
    return e;
  }

  /** Leader: commit the highest index a quorum of voters stores, if the commit rule allows it. */
  private maybeCommit(): boolean {
    const voters = this.confState.voters;
    const n = voters.length;
    if (n === 0) return false;
    const matches: number[] = new Array(n);
    for (let i = 0; i < n; i++) matches[i] = this.prs.get(voters[i]!)?.match ?? 0;
    matches.sort((a, b) => a - b);
    const mci = matches[n - quorum(n)]!;
    if (mci <= this.log.committed) return false;
    const t = this.log.term(mci);
    if (t === undefined || !this.canCommit(mci, t)) return false;
    this.commitTo(mci);
    return true;
  }

  /** Raise the commit index, applying the effect of newly committed conf changes. */
  private commitTo(index: number): void {
    const old = this.log.committed;
    if (index <= old) return;
    this.log.committed = index;
    let confChanged = false;
    for (let i = old + 1; i <= index; i++) {
      const e = this.log.entry(i);
      if (e && e.type === EntryType.ConfChange) {
        this.applyConfChange(decodeConfChange(e.data));
        confChanged = true;
      }
    }
    if (this.role !== "leader") return;
    this.broadcastPending = true;
    // A smaller quorum after a removal may commit more.
    if (confChanged) this.maybeCommit();
    if (this.pendingReadIndex.length > 0 && this.committedEntryInCurrentTerm()) {
      const reqs = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const r of reqs) this.handleReadIndex(r);
    }
  }

  private applyConfChange(cc: ConfChange): void {
    this.confState = applyConfChangeTo(this.confState, cc);
    if (this.role !== "leader") return;
    if (cc.type === "remove" && cc.nodeId === this.id) {
      // Tell the others the entry committed, then step down; we are no longer a member.
      this.broadcastPending = true;
      this.flushBroadcast();
      this.becomeFollower(this.term, null);
      return;
    }
    const next = this.log.lastIndex() + 1;
    const members = new Set([...this.confState.voters, ...this.confState.learners]);
    for (const id of members) {
      const voter = this.confState.voters.includes(id);
      const pr = this.prs.get(id);
      if (pr) {
        pr.voter = voter;
      } else {
        const np = new Progress(next, this.cfg.maxInflightMsgs, voter);
        np.recentActive = true; // do not let CheckQuorum count a brand-new member as silent
        np.lastContactTick = this.ticks;
        this.prs.set(id, np);
      }
    }
    for (const [id, pr] of [...this.prs]) {
      if (members.has(id)) continue;
      // A last heartbeat lets the removed node commit (and so learn) its own removal.
      const hb = emptyMessage("heartbeat", this.id, id, this.term);
      hb.commit = Math.min(pr.match, this.log.committed);
      this.send(hb);
      this.prs.delete(id);
    }
    if (this.leadTransferee !== null && !members.has(this.leadTransferee)) this.leadTransferee = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private flushBroadcast(): void {
    if (this.readHeartbeatPending) {
      this.readHeartbeatPending = false;
      if (this.role === "leader") this.bcastHeartbeat();
    }
    if (!this.broadcastPending) return;
    this.broadcastPending = false;
    if (this.role !== "leader") return;
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      if (!this.sendAppend(id, true)) continue;
      while (this.sendAppend(id, false)) {
        // Pipelining: fill the in-flight window.
      }
    }
  }

  /**
   * Send the next AppendEntries (or a snapshot when the entries are compacted) to `to`.
   * Returns false when nothing was sent (paused, or nothing new and !sendIfEmpty).
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const ents =
      pr.next <= this.log.lastIndex()
        ? this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxSizePerMsg)
        : [];
    if (ents.length === 0 && !sendIfEmpty) return false;
    const m = emptyMessage("app", this.id, to, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.log.committed;
    this.send(m);
    pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1]!.index : 0);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot;
    const m = emptyMessage("snap", this.id, to, this.term);
    m.snapshot = { index: snap.index, term: snap.term, confState: cloneConfState(snap.confState) };
    m.index = snap.index;
    m.logTerm = snap.term;
    this.send(m);
    pr.becomeSnapshot(snap.index);
    return true;
  }

  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingContext();
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m = emptyMessage("heartbeat", this.id, id, this.term);
      m.commit = Math.min(pr.match, this.log.committed);
      m.context = ctx;
      this.send(m);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(emptyMessage("timeoutNow", this.id, to, this.term));
  }

  private softChanged(): boolean {
    return this.prevSoft.leader !== this.lead || this.prevSoft.role !== this.role;
  }

  private hardChanged(): boolean {
    return (
      this.prevHard.term !== this.term ||
      this.prevHard.vote !== this.vote ||
      this.prevHard.commit !== this.log.committed
    );
  }
}

function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
