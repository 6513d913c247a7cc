// One push of locally stored chunks to every other member. Chunks can be handed over while the file
// they come from is still being scanned (add), so the network and the peers' disks work while the
// origin hashes the rest; finish() names everything the entry will need and returns once a quorum of
// voters holds all of it durably.
import type { Chunk } from "../store/chunker.ts";
import type { ChunkSink } from "../store/local-scanner.ts";
import type { PeerRequest } from "./peer-rpc.ts";
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
  private readonly files = new Map<string, number>();
  private batch: Chunk[] = [];
  private batchBytes = 0;
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
  async add(file: string, fileSize: number, chunks: Chunk[]): Promise<void> {
    if (!this.files.has(file)) this.files.set(file, fileSize);
    for (const c of chunks) await this.take(c);
  }

  /**
   * Sends what is still unsent of `hashes` (read from the store), waits for every batch and then for a
   * durable acknowledgement from each peer still healthy. Throws when fewer than a quorum of voters
   * (this node included) hold everything.
   */
  async finish(hashes: string[], paths: string[] = []): Promise<void> {
    const rest = [...new Set(hashes)].filter((h) => !this.sent.has(h));
    try {
      let peersDurable: Promise<unknown> = Promise.resolve();
      if (this.others.length > 0 && (rest.length > 0 || this.sent.size > 0)) {
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
        peersDurable = Promise.all(
          this.healthy().map((id) => this.ask(id, { t: "putChunks", chunks: [], durable: true })),
        );
      }
      // This node's vote counts once its own copy is on disk too; its fsync runs beside the peers'.
      await Promise.all([peersDurable, this.d.syncOwn()]);
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

  private async take(c: Chunk): Promise<void> {
    if (this.error) throw this.error;
    if (this.sent.has(c.hash) || this.others.length === 0) return;
    this.sent.add(c.hash);
    this.batch.push(c);
    this.batchBytes += c.data.length;
    if (this.batchBytes >= this.d.batchBytes) await this.flush();
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
    this.batch = [];
    this.batchBytes = 0;
    this.bytesSent += bytes;
    if (this.inFlight.length >= this.d.window) await this.inFlight.shift();
    const p = this.send(b, bytes);
    p.catch((err) => {
      this.error ??= err;
    });
    this.inFlight.push(p.catch(() => {}));
    this.throwIfFailed();
  }

  private async send(b: Chunk[], bytes: number): Promise<void> {
    // Stored without fsync: the last request of the push makes everything durable at once.
    await Promise.all(
      this.healthy().map((id) => this.ask(id, { t: "putChunks", chunks: b, durable: false })),
    );
    this.checkQuorum();
    this.progress?.setPeers(this.healthy());
    this.progress?.advance(bytes, b.length);
    this.d.onBytes?.(bytes);
  }

  /** A peer that fails is dropped from the push (it fetches at apply time); the quorum check decides. */
  private async ask(id: string, req: PeerRequest): Promise<void> {
    if (this.failed.has(id)) return;
    try {
      const address = this.d.members.addresses[id];
      if (!address) throw new Error(`no address for ${id}`);
      await this.d.request(address, req);
    } catch (err) {
      this.failed.add(id);
      this.d.onPeerFailed?.(id, err);
    }
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
