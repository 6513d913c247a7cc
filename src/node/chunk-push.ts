// One push of locally stored chunks to every other member. Chunks can be handed over while the file
// they come from is still being scanned (add), so the network and the peers' disks work while the
// origin hashes the rest; finish() names everything the entry will need and returns once a quorum of
// voters holds all of it durably.
import type { Chunk } from "../store/chunker.ts";
import type { ChunkPlacement, ChunkSink } from "../store/local-scanner.ts";
import type { StageTarget } from "../store/push-staging.ts";
import type { PeerRequest } from "./peer-rpc.ts";
import type { PushedChunks } from "./pushed-chunks.ts";
import type { TransferProgress, TransferProgressOptions } from "./transfer-progress.ts";

export interface PushMembers {
  voters: string[];
  learners: string[];
  addresses: Record<string, string>;
}

export interface ChunkPushDeps {
  self: string;
  members: PushMembers;
  request: (address: string, req: PeerRequest) => Promise<unknown>;
  /** A stored chunk's bytes (finish() reads the chunks nobody handed over). */
  read: (hash: string) => Promise<Uint8Array | null>;
  sizeOf: (hash: string) => number | null;
  /** Makes this node's own copy durable (the scan stored it without fsync). */
  syncOwn: () => Promise<void>;
  startProgress: (
    o: Pick<TransferProgressOptions, "direction" | "path" | "files" | "peers" | "chunksTotal" | "bytesTotal">,
  ) => TransferProgress;
  /** Chunks peers took in earlier pushes: not sent again, only confirmed at the end (see PushedChunks). */
  pushed?: PushedChunks;
  /** Bulk bytes sent (the node paces garbage collection by them). */
  onBytes?: (n: number) => void;
  onPeerFailed?: (peer: string, err: unknown) => void;
  batchBytes: number;
  window: number;
}

export class ChunkPush implements ChunkSink {
  private readonly others: string[];
  private readonly quorum: number;
  private readonly selfVotes: number;
  private readonly failed = new Set<string>();
  private readonly sent = new Set<string>();
  /** Chunks not sent because every peer took them in an earlier push; each peer confirms them in finish. */
  private readonly carried = new Set<string>();
  private readonly files = new Map<string, number>();
  private batch: Chunk[] = [];
  private batchBytes = 0;
  /** The staged file the current batch's chunks belong to (one per request), and their offsets in it. */
  private batchStage: StageTarget | null = null;
  private batchAt: (number | null)[] = [];
  private readonly inFlight: Promise<void>[] = [];
  private progress: TransferProgress | null = null;
  private bytesSent = 0;
  private error: unknown = null;
  private ended = false;

  constructor(private readonly d: ChunkPushDeps) {
    const m = d.members;
    this.others = [...m.voters, ...m.learners].filter((id) => id !== d.self);
    this.quorum = Math.floor(m.voters.length / 2) + 1;
    this.selfVotes = m.voters.includes(d.self) ? 1 : 0;
  }

  /** Chunks of `file` (whose size bounds what it can add) just stored locally: send them. */
  async add(file: string, fileSize: number, chunks: Chunk[], placement?: ChunkPlacement): Promise<void> {
    if (!this.files.has(file)) this.files.set(file, fileSize);
    const stage = placement ? { id: placement.stage, path: file, size: fileSize } : null;
    for (let i = 0; i < chunks.length; i++) {
      await this.take(chunks[i]!, stage ? { stage, offset: placement!.offsets[i] ?? null } : undefined);
    }
  }

  /**
   * Sends what is still unsent of `hashes` (read from the store), waits for every batch and then for a
   * durable acknowledgement from each peer still healthy. Throws when fewer than a quorum of voters
   * (this node included) hold everything.
   */
  async finish(hashes: string[], paths: string[] = []): Promise<void> {
    // Chunks every peer already took are not read from the store only to be skipped.
    const rest = [...new Set(hashes)].filter(
      (h) => !this.sent.has(h) && !this.carried.has(h) && !this.carries(h),
    );
    try {
      let peersDurable: Promise<unknown> = Promise.resolve();
      if (this.others.length > 0 && (rest.length > 0 || this.sent.size > 0 || this.carried.size > 0)) {
        const restBytes = rest.reduce((n, h) => {
          const size = this.d.sizeOf(h);
          if (size === null) throw new Error(`chunk ${h} vanished before it was pushed`);
          return n + size;
        }, 0);
        this.startProgress(paths, rest.length, restBytes);
        this.progress?.setTotal(this.bytesSent + this.batchBytes + restBytes, this.sent.size + rest.length);
        for (const h of rest) {
          const data = await this.d.read(h);
          if (!data) throw new Error(`chunk ${h} vanished before it was pushed`);
          await this.take({ hash: h, data });
        }
        await this.flush();
        while (this.inFlight.length > 0) await this.inFlight.shift();
        this.throwIfFailed();
        // One fsync per peer for the whole push, not one per batch.
        peersDurable = Promise.all(this.healthy().map((id) => this.makeDurable(id)));
      }
      // This node's vote counts once its own copy is on disk too; its fsync runs beside the peers'.
      await Promise.all([peersDurable, this.d.syncOwn()]);
      this.progress?.setPeers(this.healthy()); // without any peer its durable request dropped
      this.checkQuorum();
    } catch (err) {
      this.abort(err);
      throw err;
    }
    this.ended = true;
    this.progress?.finish();
  }

  /** The push is given up (the scan failed): batches in flight finish on their own, nothing is waited for. */
  abort(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.progress?.fail(err);
  }

  private async take(c: Chunk, place?: { stage: StageTarget; offset: number | null }): Promise<void> {
    if (this.error) throw this.error;
    if (this.sent.has(c.hash) || this.carried.has(c.hash) || this.others.length === 0) return;
    if (this.carries(c.hash)) return;
    // A request carries the placements of one staged file: another file's chunks start a new batch.
    if (place && this.batchStage && this.batchStage.id !== place.stage.id) await this.flush();
    this.sent.add(c.hash);
    this.batch.push(c);
    this.batchBytes += c.data.length;
    if (place) {
      this.batchStage ??= place.stage;
      this.batchAt[this.batch.length - 1] = place.offset;
    }
    if (this.batchBytes >= this.d.batchBytes) await this.flush();
  }

  /** Whether every peer took `hash` in an earlier push: then it is only named at the end (carried). */
  private carries(hash: string): boolean {
    if (!this.d.pushed) return false;
    const to = this.healthy();
    if (to.length === 0 || !this.d.pushed.heldByAll(hash, to)) return false;
    this.carried.add(hash);
    return true;
  }

  private startProgress(paths: string[], extraChunks: number, extraBytes: number): void {
    if (this.progress || this.others.length === 0) return;
    const names = paths.length > 0 ? paths : [...this.files.keys()];
    const expected = [...this.files.values()].reduce((a, b) => a + b, 0);
    this.progress = this.d.startProgress({
      direction: "push",
      path: names[0] ?? null,
      files: Math.max(names.length, this.files.size),
      peers: this.healthy(),
      chunksTotal: this.sent.size + extraChunks,
      bytesTotal: Math.max(expected, this.bytesSent + this.batchBytes + extraBytes),
    });
  }

  /** Sends the current batch, first waiting for a free slot in the window. */
  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    this.startProgress([], 0, 0);
    const b = this.batch;
    const bytes = this.batchBytes;
    const stage = this.batchStage
      ? { stage: this.batchStage, at: Array.from(b, (_, i) => this.batchAt[i] ?? null) }
      : null;
    this.batch = [];
    this.batchBytes = 0;
    this.batchStage = null;
    this.batchAt = [];
    this.bytesSent += bytes;
    if (this.inFlight.length >= this.d.window) await this.inFlight.shift();
    const p = this.send(b, bytes, stage);
    p.catch((err) => {
      this.error ??= err;
    });
    this.inFlight.push(p.catch(() => {}));
    this.throwIfFailed();
  }

  private async send(
    b: Chunk[],
    bytes: number,
    stage: { stage: StageTarget; at: (number | null)[] } | null,
  ): Promise<void> {
    // Stored without fsync: the last request of the push makes everything durable at once.
    const req: PeerRequest = stage
      ? { t: "putChunks", chunks: b, durable: false, stage: stage.stage, at: stage.at }
      : { t: "putChunks", chunks: b, durable: false };
    await Promise.all(
      this.healthy().map(async (id) => {
        // Noted before the reply: a rescan right after this push failed need not wait for it. Safe because
        // whoever relies on it names the chunk in its durable request, which the peer answers after this.
        for (const c of b) this.d.pushed?.note(c.hash, id);
        if ((await this.ask(id, req)) !== FAILED) return;
        for (const c of b) this.d.pushed?.forget(c.hash, id);
      }),
    );
    this.checkQuorum();
    this.progress?.setPeers(this.healthy());
    this.progress?.advance(bytes, b.length);
    this.d.onBytes?.(bytes);
  }

  /**
   * The push's last request to a peer: fsync everything it stored. The carried chunks (taken in an earlier
   * push) are named, and the peer answers with those it does not hold (it restarted, or collected them):
   * they are sent once more, durably. A peer that still lacks some after that is dropped from the push.
   */
  private async makeDurable(id: string): Promise<void> {
    const expect = [...this.carried];
    const reply = await this.ask(
      id,
      expect.length > 0
        ? { t: "putChunks", chunks: [], durable: true, expect }
        : { t: "putChunks", chunks: [], durable: true },
    );
    if (reply === FAILED || expect.length === 0) return;
    const missing = missingOf(reply);
    if (missing.length === 0) return;
    for (const h of missing) this.d.pushed?.forget(h, id);
    let batch: Chunk[] = [];
    let bytes = 0;
    const sendBatch = async (): Promise<boolean> => {
      const b = batch;
      batch = [];
      bytes = 0;
      const r = await this.ask(id, {
        t: "putChunks",
        chunks: b,
        durable: true,
        expect: b.map((c) => c.hash),
      });
      if (r === FAILED) return false;
      if (missingOf(r).length === 0) {
        for (const c of b) this.d.pushed?.note(c.hash, id);
        return true;
      }
      this.dropPeer(id, new Error("peer still lacks chunks it was just sent"));
      return false;
    };
    const asked = new Set(expect);
    for (const h of missing) {
      if (!asked.has(h)) continue; // it may only name chunks it was asked about
      const data = await this.d.read(h);
      if (!data) throw new Error(`chunk ${h} vanished before it was pushed`);
      batch.push({ hash: h, data });
      bytes += data.length;
      if (bytes >= this.d.batchBytes && !(await sendBatch())) return;
    }
    if (batch.length > 0) await sendBatch();
  }

  /**
   * A peer that fails is dropped from the push (it fetches at apply time); the quorum check decides.
   * Returns the peer's reply, or FAILED.
   */
  private async ask(id: string, req: PeerRequest): Promise<unknown> {
    if (this.failed.has(id)) return FAILED;
    try {
      const address = this.d.members.addresses[id];
      if (!address) throw new Error(`no address for ${id}`);
      return await this.d.request(address, req);
    } catch (err) {
      this.dropPeer(id, err);
      return FAILED;
    }
  }

  private dropPeer(id: string, err: unknown): void {
    if (this.failed.has(id)) return;
    this.failed.add(id);
    this.d.onPeerFailed?.(id, err);
  }

  private healthy(): string[] {
    return this.others.filter((id) => !this.failed.has(id));
  }

  private checkQuorum(): void {
    const acking =
      this.selfVotes +
      this.d.members.voters.filter((id) => id !== this.d.self && !this.failed.has(id)).length;
    if (acking < this.quorum) throw new Error(`chunks reached ${acking} of the ${this.quorum} voters needed`);
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }
}

const FAILED = Symbol("failed");

/** The chunks a durable putChunks reply says the peer lacks (`true`, from a peer that lacks none). */
function missingOf(reply: unknown): string[] {
  const m = (reply as { missing?: unknown } | null)?.missing;
  return Array.isArray(m) ? m.filter((h): h is string => typeof h === "string") : [];
}
