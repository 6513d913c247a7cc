import { mkdirSync } from "node:fs";
import path from "node:path";
import type { LegacyForwardCommand } from "../admin/admin-handler.ts";
import { AdminServer } from "../admin/admin-server.ts";
import { NodeFileApiBackend } from "../fileapi/node-backend.ts";
import { type FileApiServer, startFileApi } from "../fileapi/server.ts";
import { type Monitoring, startMonitoring } from "../monitor/start-monitoring.ts";
import { NotLeaderError, RaftNode } from "../raft/driver/raft-node.ts";
import { FileSnapshotStore } from "../raft/storage/file-snapshot-store.ts";
import { SqliteRaftStorage } from "../raft/storage/sqlite-raft-storage.ts";
import { TcpTransport } from "../raft/transport/tcp-transport.ts";
import type { PeerProgress } from "../raft/types.ts";
import { ChunkStore } from "../store/chunk-store.ts";
import type { Chunk } from "../store/chunker.ts";
import { encodeCommand, type LeafCommand } from "../store/commands.ts";
import { FileFSM } from "../store/file-fsm.ts";
import { FileHasher } from "../store/file-hasher.ts";
import { FileIndex } from "../store/file-index.ts";
import { openForWriting } from "../store/file-lease.ts";
import { FileSystemSyncer } from "../store/fs-syncer.ts";
import { legacyForwardToCommand } from "../store/legacy-forward.ts";
import { LocalScanner, ScanRaceError } from "../store/local-scanner.ts";
import { resolveInside } from "../store/paths.ts";
import { PushStaging } from "../store/push-staging.ts";
import { FolderWatcher } from "../watcher/folder-watcher.ts";
import { IgnoreRules } from "../watcher/ignore-rules.ts";
import { ChangePipeline } from "./change-pipeline.ts";
import { ChunkPush } from "./chunk-push.ts";
import { Forwarder } from "./forwarder.ts";
import { GcPacer, type GcPacerOptions } from "./gc-pacer.ts";
import { createLogger, type Logger } from "./logger.ts";
import { NodeAdminHandler } from "./node-admin-handler.ts";
import { NodeEvents } from "./node-events.ts";
import { type NodeOptions, nodeFolder, validateNodeOptions } from "./node-options.ts";
import { isPeerRequest, notLeaderMessage, type PeerRequest } from "./peer-rpc.ts";
import { PushedChunks } from "./pushed-chunks.ts";
import { reconcileCandidates } from "./reconcile-candidates.ts";
import { TransferProgress, type TransferProgressOptions } from "./transfer-progress.ts";

/** Chunks asked for in one request: at most 64 x 256 KiB (the chunker's maximum) = 16 MiB per reply. */
const FETCH_GROUP = 64;
/** How often applied files are fsynced together (FileFSM.checkpoint); also on snapshot and stop. */
const CHECKPOINT_INTERVAL_MS = 1000;
/** Chunk bytes per putChunks request, and how many such requests a push keeps in flight. */
export const PUSH_BATCH_BYTES = 4 * 1024 * 1024;
const PUSH_WINDOW = 3;
/** How long the scanner watches a large file's size before reading it (LocalScanner growthProbe): a
 * write in progress adds megabytes in that time. */
const GROWTH_PROBE_MS = 2;
/** Garbage collection pacing by bulk bytes (chunks scanned, pushed, received or written; see GcPacer):
 * full collections only as the resident set nears the 200 MB budget, or after 256 MiB regardless. A
 * quick one every 16 MiB: every 4 MiB cost W3 50-90 ms of CPU over the cluster for no lower peak
 * (since large files are hashed whole on a worker and assembled on the way, fewer large buffers die per
 * MiB). */
const GC_PACING: GcPacerOptions = {
  quickEvery: 16 * 1024 * 1024,
  fullEvery: 256 * 1024 * 1024,
  minFullGap: 12 * 1024 * 1024,
  rssSoftLimit: 160 * 1024 * 1024,
};

function chunked<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** What a node says about itself (peer RPC "status", admin STATUS, monitor, TUI). */
export interface NodeStatus {
  node: string;
  role: "follower" | "candidate" | "preCandidate" | "leader";
  term: number;
  leader: string | null;
  leaderAddress: string | null;
  leaderAdmin: string | null;
  commit: number;
  applied: number;
  lastIndex: number;
  voters: string[];
  learners: string[];
  addresses: Record<string, string>;
  progress: PeerProgress[];
  files: number;
  bytes: number;
  uptimeMs: number;
  raftAddress: string;
  adminAddress: string;
  monitorAddress: string;
  clientAddress: string;
  pendingChanges: number;
}

export interface ClusterMemberStatus {
  id: string;
  voter: boolean;
  /** Raft address from the configuration. */
  address: string;
  status: NodeStatus | null;
  /** Why status is null (member down or unreachable). */
  error: string | null;
}

/**
 * The composition root: the only place that knows every part. One node = one folder, one Raft
 * member, one admin port. Data flows one way: watcher → scanner → pipeline → forwarder → leader →
 * log → FileFSM.apply (every node) → folder; events fan out to admin SUBSCRIBE, logs and the TUI.
 */
export class PickboxNode {
  readonly folder: string;
  readonly stateDir: string;
  readonly events: NodeEvents;
  readonly log: Logger;
  raft!: RaftNode;
  index!: FileIndex;
  chunks!: ChunkStore;
  private storage!: SqliteRaftStorage;
  private transport!: TcpTransport;
  private fsm!: FileFSM;
  private scanner!: LocalScanner;
  private checkpointTimer: ReturnType<typeof setInterval> | undefined;
  /** Large files being assembled from pushed chunks ahead of their commit (applies only rename them). */
  private staging!: PushStaging;
  private readonly gcPacer = new GcPacer(GC_PACING);
  /** Chunks peers took from this node's recent pushes (a rescan does not ship them again). */
  private readonly pushedChunks = new PushedChunks();
  /** Checkpoints after bursts of small files sync the file system at once (syncfs, on a worker). */
  private readonly fsSyncer = new FileSystemSyncer({
    onWorkerFailed: (err) =>
      this.log.warn(
        { err: err.message },
        "file system sync worker unavailable; checkpoints fsync file by file",
      ),
  });
  // The scanner gets only its whole-file hash (hashFile). Its cut (FileHasher.chunks) stays on the scan's
  // thread: moving it to the worker made W3 slower (docs/benchmarks.md, session 12).
  private readonly fileHasher = new FileHasher({
    onWorkerFailed: (err) =>
      this.log.warn(
        { err: err.message },
        "file hash worker unavailable; hashing large files on the main thread",
      ),
  });
  private watcher!: FolderWatcher;
  private pipeline!: ChangePipeline<LeafCommand>;
  private forwarder!: Forwarder;
  private admin!: AdminServer;
  private fileApi?: FileApiServer;
  private monitoring: Monitoring | null = null;
  private stopped = false;
  /** Called once if the node stops itself after an unrecoverable error (the CLI exits non-zero). */
  onFatal: (err: Error) => void = () => {};
  private readonly deferredScans = new Set<string>();
  /** Transfer ids are `<direction>-<this process's start>-<n>`: unique across restarts of the node. */
  private readonly transferPrefix = Date.now().toString(36);
  private transferSeq = 0;
  raftAddress = "";
  adminAddress = "";
  clientAddress = "";

  constructor(readonly options: NodeOptions) {
    validateNodeOptions(options);
    this.folder = nodeFolder(options);
    this.stateDir = path.join(this.folder, ".pickbox");
    this.events = new NodeEvents(options.nodeId);
    mkdirSync(this.stateDir, { recursive: true, mode: 0o750 });
    this.log = createLogger({
      file: path.join(this.stateDir, "node.log"),
      level: options.logLevel,
      nodeId: options.nodeId,
      stderr: options.logToStderr,
    });
  }

  async start(): Promise<void> {
    const o = this.options;
    this.storage = new SqliteRaftStorage(path.join(this.stateDir, "state.db"));
    this.index = new FileIndex(this.storage.db);
    this.chunks = new ChunkStore(path.join(this.stateDir, "chunks"), { db: this.storage.db });
    const snapshots = new FileSnapshotStore(path.join(this.stateDir, "snapshots"));
    this.staging = new PushStaging(path.join(this.stateDir, "tmp"));
    this.transport = new TcpTransport({
      bindHost: o.bindHost,
      bindPort: o.raftPort,
      secret: o.secret ?? undefined,
      logger: (level, msg, fields) => this.log[level === "debug" ? "debug" : level]({ ...fields }, msg),
    });
    this.fsm = new FileFSM({
      root: this.folder,
      nodeId: o.nodeId,
      index: this.index,
      chunks: this.chunks,
      fetchChunks: (hashes, hint, sink) => this.fetchChunks(hashes, hint, sink),
      knownHash: (rel, st) => this.scanner?.knownHash(rel, st),
      proposedHere: (rel) => this.scanner?.proposedHere(rel) ?? false,
      clock: () => performance.now(), // apply latency in events, logs and the TUI
      onBulkBytes: (n) => this.gcPacer.note(n),
      events: this.events.fsm,
      staging: this.staging,
      syncFileSystem: (dir) => this.fsSyncer.sync(dir),
    });
    const advertised = `${o.advertiseHost}:${o.raftPort}`;
    this.raft = new RaftNode({
      id: o.nodeId,
      address: advertised,
      storage: this.storage,
      snapshots,
      transport: this.transport,
      fsm: this.fsm,
      bootstrap: o.bootstrap,
      tickMs: o.tickMs,
      electionTick: o.electionTick,
      snapshotThreshold: o.snapshotThreshold,
      onRequest: (p) => this.handlePeerRequest(p),
      log: (level, msg, fields) => this.log[level]({ ...fields }, msg),
    });
    this.forwarder = new Forwarder({ raft: this.raft, transport: this.transport });
    // A node whose Raft layer stopped itself must not linger half-alive (admin up, nothing replicating).
    this.raft.on("failed", (err) => this.onFatal(err));
    this.raft.on("softState", (ss) =>
      this.events.emitRaft({ type: "role", role: ss.role, leader: ss.leader }),
    );
    this.raft.on("confChange", (cs) =>
      this.events.emitRaft({ type: "members", voters: cs.voters, learners: cs.learners }),
    );

    await this.raft.start();
    this.raftAddress = advertised;
    // Before the scanner looks at the folder: a file a power cut left torn must not pass for an edit.
    const repaired = await this.fsm.repairAfterPowerLoss();
    if (repaired > 0) this.log.warn({ files: repaired }, "rewrote files a power cut left torn");
    // Applies do not fsync one by one (the committed log is the write-ahead log); this makes them durable.
    this.checkpointTimer = setInterval(() => {
      this.staging.sweep();
      this.fsm.checkpoint().catch((err) => this.log.error({ err: String(err) }, "checkpoint failed"));
    }, CHECKPOINT_INTERVAL_MS);

    this.admin = new AdminServer({
      host: o.bindHost,
      port: o.adminPort,
      secret: o.secret ?? undefined,
      handler: new NodeAdminHandler(this),
    });
    this.adminAddress = await this.admin.listen();
    this.monitoring = await startMonitoring(this);
    this.fileApi = await startFileApi(
      new NodeFileApiBackend(this, {
        propose: (d) => this.forwarder.propose(d),
        pushChunks: (h) => this.pushChunks(h),
      }),
      { host: o.bindHost, port: o.clientPort },
    );
    this.clientAddress = this.fileApi.address;

    this.scanner = new LocalScanner({
      root: this.folder,
      nodeId: o.nodeId,
      index: this.index,
      chunks: this.chunks,
      isBeingApplied: (rel, hash) => this.fsm.isBeingApplied(rel, hash),
      isPlacing: (rel) => this.fsm.isPlacing(rel),
      onDeferred: (rel) => this.deferredScans.add(rel),
      onBulkBytes: (n) => this.gcPacer.note(n),
      hashFile: (abs) => this.fileHasher.hash(abs),
      growthProbe: () => new Promise((r) => setTimeout(r, GROWTH_PROBE_MS)),
      openForWriting,
    });
    // Paths seen while the FSM was placing them are rescanned once that entry is applied.
    this.raft.on("applied", () => {
      if (this.deferredScans.size === 0) return;
      const paths = [...this.deferredScans];
      this.deferredScans.clear();
      this.pipeline.markDirty(paths);
    });
    this.pipeline = new ChangePipeline<LeafCommand>({
      scanner: this.scanner,
      encode: (commands) => {
        if (this.log.isLevelEnabled("debug")) {
          for (const c of commands) {
            this.log.debug(
              {
                op: c.op,
                path: c.path,
                base: c.base,
                hash: "hash" in c ? c.hash : undefined,
                indexHash: this.index.get(c.path)?.hash,
                fsmApplied: this.fsm.appliedIndex(),
              },
              "proposing",
            );
          }
        }
        return encodeCommand(commands);
      },
      propose: (data) => this.forwarder.propose(data),
      openPush: () => this.openPush(),
      // A file still being written is looked at again shortly: expected, so not a warning (a long copy
      // would log one every 50 ms).
      onError: (p, err) =>
        this.log[err instanceof ScanRaceError ? "debug" : "warn"](
          { path: p, err: String(err) },
          "change not replicated yet; will retry",
        ),
    });
    const ignore = new IgnoreRules(this.folder);
    this.watcher = new FolderWatcher({
      root: this.folder,
      // Most saves finish within a few ms; a slower writer is rescanned (nothing is lost, at worst an
      // intermediate version replicates first). Latency W1 in docs/benchmarks.md depends on this.
      settleMs: 8,
      ignore,
      // The echo of our own applies (the file is exactly what the index recorded) needs no scan.
      onEvents: (evs) =>
        this.pipeline.markDirty(
          evs.filter((e) => !(e.fileStat && this.fsm.isEchoOfApply(e.path, e.fileStat))).map((e) => e.path),
        ),
      onReconcile: (_paths, entries) => this.pipeline.markDirty(reconcileCandidates(this.index, entries)),
      onError: (err) =>
        this.log.error({ err: String(err) }, "watcher error (the periodic reconcile keeps running)"),
    });
    await this.watcher.start();

    if (o.join) void this.joinCluster(o.join);
    // Files already in the folder (a join, or edits made while the node was down) are proposed:
    // nothing in anyone's folder is lost. Waits for a leader through the forwarder's retries.
    void this.watcher
      .reconcileNow()
      .catch((err) => this.log.warn({ err: String(err) }, "initial reconcile failed"));
    this.log.info(
      {
        raft: advertised,
        admin: this.adminAddress,
        folder: this.folder,
        bootstrap: o.bootstrap,
        join: o.join,
      },
      "node started",
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.monitoring?.close();
    this.pipeline?.close();
    this.fileHasher.close();
    await this.watcher?.close();
    await this.admin?.close();
    await this.fileApi?.close();
    await this.raft?.stop();
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.fsm?.checkpoint().catch((err) => this.log.error({ err: String(err) }, "checkpoint failed"));
    this.staging?.close();
    this.fsSyncer.close();
    this.chunks?.close();
    this.storage?.close();
    this.log.info({}, "node stopped");
    this.log.flush?.();
  }

  /** Wait until local changes seen so far are committed (tests, graceful shutdown). */
  async settle(): Promise<void> {
    await this.pipeline.idle();
  }

  get tickMs(): number {
    return this.options.tickMs ?? 50;
  }

  /** Apply a legacy FORWARD (the original's JSON) as a proposal; resolves once applied here. */
  async forwardLegacy(cmd: LegacyForwardCommand): Promise<void> {
    if (!this.raft.isLeader) throw new NotLeaderError(this.raft.leader);
    // Lexical checks happened at parse time; this one follows symlinks already in the folder.
    await resolveInside(this.folder, cmd.path);
    const { command, missingChunks } = await legacyForwardToCommand(
      {
        op: cmd.op,
        path: cmd.path,
        data: cmd.data ? Buffer.from(cmd.data).toString("base64") : null,
        node_id: cmd.nodeId,
        sequence: cmd.sequence,
      },
      { index: this.index, chunks: this.chunks, nodeId: this.options.nodeId, now: Date.now },
    );
    if (missingChunks.length > 0) await this.pushChunks(missingChunks);
    const result = (await this.raft.propose(encodeCommand(command))) as
      | { action?: string; detail?: string }
      | undefined;
    // Committed but refused by the FSM on every node (e.g. a path blocked by a file): not "OK".
    if (result?.action === "rejected") throw new Error(result.detail ?? `${cmd.path} was rejected`);
  }

  /** Hand leadership to `id` (or the most caught-up other voter); resolves with the new leader. */
  async transferLeadership(id: string | null): Promise<string> {
    if (!this.raft.isLeader) throw new NotLeaderError(this.raft.leader);
    const st = this.raft.status();
    const target =
      id ??
      st.progress.filter((p) => p.voter && p.id !== this.options.nodeId).sort((a, b) => b.match - a.match)[0]
        ?.id;
    if (!target) throw new Error("no other voter to transfer leadership to");
    if (!st.confState.voters.includes(target)) throw new Error(`${target} is not a voter`);
    this.raft.transferLeadership(target);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (this.raft.leader === target) return target;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`leadership transfer to ${target} did not complete in 5 s`);
  }

  private async handlePeerRequest(payload: unknown): Promise<unknown> {
    if (!isPeerRequest(payload)) throw new Error("malformed peer request");
    const req: PeerRequest = payload;
    switch (req.t) {
      case "propose":
        return this.forwarder.serve(req.data);
      case "putChunks": {
        if (req.chunks.length > 0) await this.chunks.putMany(req.chunks, { durable: false });
        // (Stored and checked first: a stage only ever holds chunks whose hashes were verified.)
        if (req.stage && Array.isArray(req.at)) await this.staging.write(req.stage, req.chunks, req.at);
        if (req.durable !== false) await this.chunks.sync();
        this.gcPacer.note(req.chunks.reduce((n, c) => n + c.data.length, 0));
        if (req.durable === false || !Array.isArray(req.expect)) return true;
        // Checked after the fsync: what is here now is on disk.
        const missing = req.expect.filter((h) => typeof h !== "string" || !this.chunks.has(h));
        return missing.length > 0 ? { missing } : true;
      }
      case "getChunks": {
        // At most ~32 MiB per reply (whatever a peer asks for): the asker loops for the rest.
        const found: Chunk[] = [];
        let bytes = 0;
        for (const h of req.hashes) {
          const data = await this.chunks.get(h);
          if (!data) continue;
          found.push({ hash: h, data });
          bytes += data.length;
          if (bytes >= 32 * 1024 * 1024) break;
        }
        return found;
      }
      case "addMember":
        return this.addMember(req.id, req.address, req.learner);
      case "removeMember":
        return this.removeMember(req.id);
      case "status":
        return this.statusSnapshot();
    }
  }

  /** Membership changes go to the leader; any member can take the request and relay it. */
  async addMember(id: string, address: string, learner: boolean): Promise<string> {
    // Ids and addresses end up in every node's configuration, logs, STATUS and dashboards: refuse junk.
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      throw new Error(`invalid node id ${JSON.stringify(id)}: use 1-64 letters, digits, '_' or '-'`);
    }
    if (!/^[A-Za-z0-9.-]{1,253}:\d{1,5}$/.test(address) && !/^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(address)) {
      throw new Error(`invalid address ${JSON.stringify(address)}: expected host:port`);
    }
    if (!this.raft.isLeader)
      return this.relayToLeader({ t: "addMember", id, address, learner }) as Promise<string>;
    const cs = this.raft.members();
    if (cs.voters.includes(id) && cs.addresses[id] === address) return "voter";
    if (cs.learners.includes(id) && cs.addresses[id] === address && learner) return "learner";
    // Beyond --max-voters, nodes join as learners: quorum stays small, every node still gets every file.
    const asLearner = learner || (!cs.voters.includes(id) && cs.voters.length >= this.options.maxVoters);
    if (cs.learners.includes(id) && !asLearner) {
      await this.raft.proposeConfChange({ type: "promote", nodeId: id });
      return "voter";
    }
    await this.raft.proposeConfChange({ type: asLearner ? "addLearner" : "addVoter", nodeId: id, address });
    return asLearner ? "learner" : "voter";
  }

  async removeMember(id: string): Promise<void> {
    if (!this.raft.isLeader) {
      await this.relayToLeader({ t: "removeMember", id });
      return;
    }
    await this.raft.proposeConfChange({ type: "remove", nodeId: id });
  }

  private async relayToLeader(req: PeerRequest): Promise<unknown> {
    const leader = this.raft.leader;
    const address = leader ? this.raft.addressOf(leader) : undefined;
    if (!leader || !address) throw new Error(notLeaderMessage(null));
    return this.transport.request(address, req, 15_000);
  }

  /** Ask the member at --join (any member: followers relay to the leader) to add us; retry until it works.
   * Goes over the Raft transport, so it works whatever the admin ports are (the original assumed +1000). */
  private async joinCluster(join: string): Promise<void> {
    let delay = 200;
    while (!this.stopped) {
      const cs = this.raft.members();
      if (cs.voters.includes(this.options.nodeId) || cs.learners.includes(this.options.nodeId)) return;
      try {
        const role = await this.transport.request(
          join,
          { t: "addMember", id: this.options.nodeId, address: this.raftAddress, learner: false },
          15_000,
        );
        this.log.info({ via: join, role }, "joined the cluster");
        return;
      } catch (err) {
        this.log.warn({ via: join, err: String(err) }, "join attempt failed; retrying");
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 3000);
    }
  }

  /**
   * Chunks stored locally must be durable on a majority of voters before an entry naming them is
   * proposed. A push streams PUSH_BATCH_BYTES batches, PUSH_WINDOW of them in flight (memory stays
   * bounded whatever the file size), each to every member at once; members that fail are skipped (they
   * fetch at apply time) as long as a quorum of voters still holds every batch (see ChunkPush).
   */
  private openPush(): ChunkPush {
    return new ChunkPush({
      self: this.options.nodeId,
      members: this.raft.members(),
      request: (address, req) => this.transport.request(address, req, 60_000),
      read: (h) => this.chunks.get(h),
      sizeOf: (h) => this.chunks.sizeOf(h),
      syncOwn: () => this.chunks.sync(),
      startProgress: (o) => this.startTransfer(o),
      onBytes: (n) => this.gcPacer.note(n),
      onPeerFailed: (id, err) =>
        this.log.debug({ to: id, err: String(err) }, "chunk push failed (peer will fetch at apply)"),
      batchBytes: PUSH_BATCH_BYTES,
      window: PUSH_WINDOW,
      pushed: this.pushedChunks,
    });
  }

  /** Pushes chunks already stored (`paths`: the files they belong to, for progress). */
  private pushChunks(hashes: string[], paths: string[] = []): Promise<void> {
    return this.openPush().finish(hashes, paths);
  }

  private startTransfer(
    o: Pick<TransferProgressOptions, "direction" | "path" | "files" | "peers" | "chunksTotal" | "bytesTotal">,
  ): TransferProgress {
    return new TransferProgress({
      ...o,
      id: `${o.direction}-${this.transferPrefix}-${++this.transferSeq}`,
      emit: (e) => this.events.emitTransfer(e),
      clock: () => performance.now(),
      intervalMs: this.options.transferEventMs,
    });
  }

  /**
   * A chunk named by a committed entry is missing here (we were down when it was pushed, or the push
   * reached only a quorum): fetch it from a peer, in bounded groups (a response frame stays far below
   * the transport's limit). Keeps trying until it succeeds or the node stops: the apply cannot skip an
   * entry, and giving up would stop the node over what is only an availability problem. The FSM names
   * the origin (the likeliest holder) and, where it passes it, the file (for progress events).
   */
  /**
   * Gets chunks from peers (the origin first), retrying until every one arrived. With `sink`, each reply's
   * chunks go there as they arrive (a large file is never held in memory whole) and none are returned.
   */
  private async fetchChunks(
    hashes: string[],
    hint: { origin: string; path?: string },
    sink?: (chunks: Chunk[]) => Promise<void>,
  ): Promise<Chunk[]> {
    const origin = hint.origin;
    const want = new Set(hashes);
    const got: Chunk[] = [];
    const progress = this.startTransfer({
      direction: "fetch",
      path: hint.path ?? null,
      files: 1,
      peers: [], // named once a peer is asked (the first event comes after that)
      chunksTotal: want.size,
      bytesTotal: null,
    });
    let delay = 100;
    for (let attempt = 1; want.size > 0; attempt++) {
      if (this.stopped) {
        const err = new Error("node stopped while fetching chunks");
        progress.fail(err);
        throw err;
      }
      const cs = this.raft.members();
      const order = [origin, ...cs.voters, ...cs.learners].filter(
        (id, i, a) => id !== this.options.nodeId && a.indexOf(id) === i,
      );
      for (const id of order) {
        const address = cs.addresses[id];
        if (!address) continue;
        progress.setPeers([id]);
        for (const group of chunked([...want], FETCH_GROUP)) {
          try {
            const found = (await this.transport.request(
              address,
              { t: "getChunks", hashes: group },
              60_000,
            )) as Chunk[];
            const fresh = found.filter((c) => want.has(c.hash));
            if (sink) await sink(fresh);
            else got.push(...fresh);
            let bytes = 0;
            for (const c of fresh) {
              want.delete(c.hash);
              bytes += c.data.length;
            }
            progress.advance(bytes, fresh.length);
            this.gcPacer.note(bytes);
          } catch (err) {
            this.log.debug({ from: id, err: String(err) }, "chunk fetch failed; trying another peer");
            break;
          }
        }
        if (want.size === 0) break;
      }
      if (want.size > 0) {
        if (attempt % 10 === 1)
          this.log.warn({ missing: want.size, attempt }, "chunks not available from any peer yet; retrying");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
    progress.finish();
    return got;
  }

  /**
   * Every member's own status, asked over the peer transport (members that do not answer within
   * timeoutMs are reported with an error). This node answers for itself without a round trip.
   */
  async clusterStatus(timeoutMs = 1500): Promise<ClusterMemberStatus[]> {
    const cs = this.raft.members();
    const ids = [...cs.voters, ...cs.learners];
    return Promise.all(
      ids.map(async (id): Promise<ClusterMemberStatus> => {
        const voter = cs.voters.includes(id);
        const address = cs.addresses[id] ?? "";
        if (id === this.options.nodeId)
          return { id, voter, address, status: this.statusSnapshot(), error: null };
        try {
          const status = (await this.transport.request(address, { t: "status" }, timeoutMs)) as NodeStatus;
          return { id, voter, address, status, error: null };
        } catch (err) {
          return {
            id,
            voter,
            address,
            status: null,
            error: err instanceof Error ? err.message : String(err),
          };
        }
      }),
    );
  }

  /** Bytes the peer transport received and sent since the node started (metrics, benchmarks). */
  networkStats(): { received: number; sent: number } {
    const st = this.transport?.stats();
    return { received: st?.bytesReceived ?? 0, sent: st?.bytesSent ?? 0 };
  }

  statusSnapshot(): NodeStatus {
    const st = this.raft.status();
    const counts = this.index.count();
    return {
      node: this.options.nodeId,
      role: st.role,
      term: st.term,
      leader: st.leader,
      leaderAddress: st.leader ? (this.raft.addressOf(st.leader) ?? null) : null,
      leaderAdmin: st.leader === this.options.nodeId ? this.adminAddress : null,
      commit: st.commit,
      applied: this.raft.appliedIndex,
      lastIndex: st.lastIndex,
      voters: st.confState.voters,
      learners: st.confState.learners,
      addresses: st.confState.addresses,
      progress: st.progress,
      files: counts.files,
      bytes: counts.bytes,
      uptimeMs: this.raft.uptimeMs,
      raftAddress: this.raftAddress,
      adminAddress: this.adminAddress,
      monitorAddress: `${this.options.advertiseHost}:${this.options.monitorPort}`,
      clientAddress: this.clientAddress || `${this.options.advertiseHost}:${this.options.clientPort}`,
      pendingChanges: this.pipeline?.pending ?? 0,
    };
  }
}
