// Turning a handle's bytes into one replicated put, and learning what the cluster did with it.
//
// Small changes carry their new chunks inside the log entry; larger ones store the chunks here and push
// them to a quorum in bounded batches before proposing (the entry then names only hashes), so a file of
// any size streams through in bounded memory.
//
// The outcome is taken from the FIRST application of the exact entry bytes on this node, not from the
// proposer's reply: a forwarder that retries after an ambiguous failure may commit the entry twice, and
// the second application (a no-op, or a spurious conflict copy if someone wrote in between) must not be
// mistaken for what happened to the write.
import { StreamingChunker, sha256Hex } from "../store/chunker.ts";
import {
  type Command,
  DEFAULT_INLINE_LIMIT,
  encodeCommand,
  type InlineChunk,
  type LeafCommand,
  type PutCommand,
} from "../store/commands.ts";
import type { ApplyResult, LeafResult } from "../store/file-fsm.ts";
import type { VectorClock } from "../store/vector-clock.ts";
import type { FileApiBackend } from "./backend.ts";
import { FileApiError, toFileApiError } from "./errors.ts";

/** Fresh chunk bytes pushed to peers per round when a change is too big to ride in the entry. */
const PUSH_BATCH_BYTES = 8 * 1024 * 1024;

export interface PutSpec {
  path: string;
  content: AsyncIterable<Uint8Array>;
  base: VectorClock;
  mode: number;
  mtimeMs: number;
  origin: string;
  seq: number;
}

/** Chunks `content` and returns the put command (chunks that do not ride inline are stored and pushed). */
export async function buildPut(
  backend: FileApiBackend,
  spec: PutSpec,
  inlineLimit = DEFAULT_INLINE_LIMIT,
): Promise<PutCommand> {
  const chunker = new StreamingChunker();
  const hasher = new Bun.CryptoHasher("sha256");
  const order: string[] = [];
  const seen = new Set<string>();
  let held: InlineChunk[] = []; // fresh chunks not yet stored (inline candidates)
  let heldBytes = 0;
  let outOfBand = false;
  let size = 0;
  let batch: InlineChunk[] = [];
  let batchBytes = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    batchBytes = 0;
    await backend.storeChunks(b);
    await backend.replicateChunks(b.map((c) => c.hash));
  };
  const take = async (chunks: { hash: string; data: Uint8Array }[]) => {
    for (const c of chunks) {
      order.push(c.hash);
      if (seen.has(c.hash)) continue;
      seen.add(c.hash);
      if (backend.hasChunk(c.hash)) continue;
      if (!outOfBand) {
        held.push(c);
        heldBytes += c.data.length;
        if (heldBytes <= inlineLimit) continue;
        outOfBand = true; // too much for the entry: everything fresh goes out of band from now on
        batch = held;
        batchBytes = heldBytes;
        held = [];
        heldBytes = 0;
      } else {
        batch.push(c);
        batchBytes += c.data.length;
      }
      if (batchBytes >= PUSH_BATCH_BYTES) await flush();
    }
  };

  for await (const piece of spec.content) {
    size += piece.length;
    hasher.update(piece);
    await take(chunker.push(piece));
  }
  await take(chunker.finish());
  await flush();
  return {
    op: "put",
    path: spec.path,
    kind: "file",
    mode: spec.mode,
    mtimeMs: spec.mtimeMs,
    size,
    hash: size === 0 ? sha256Hex(new Uint8Array(0)) : hasher.digest("hex"),
    chunks: order,
    inline: held,
    base: spec.base,
    origin: spec.origin,
    seq: spec.seq,
  };
}

interface Expectation {
  payload: Uint8Array;
  result: ApplyResult | undefined;
}

/** Watches applied entries for the payloads of proposals in flight and keeps each one's first result. */
export class OutcomeTracker {
  private readonly pending = new Map<bigint, Expectation[]>();
  private readonly unsubscribe: () => void;

  constructor(backend: FileApiBackend) {
    this.unsubscribe = backend.onApplied((data, result) => {
      if (this.pending.size === 0) return;
      const list = this.pending.get(key(data));
      if (!list) return;
      for (const e of list)
        if (e.result === undefined && sameBytes(e.payload, data)) e.result = result as ApplyResult;
    });
  }

  expect(payload: Uint8Array): { result: () => ApplyResult | undefined; dispose: () => void } {
    const k = key(payload);
    const e: Expectation = { payload, result: undefined };
    const list = this.pending.get(k) ?? [];
    list.push(e);
    this.pending.set(k, list);
    return {
      result: () => e.result,
      dispose: () => {
        const l = this.pending.get(k);
        if (!l) return;
        const i = l.indexOf(e);
        if (i >= 0) l.splice(i, 1);
        if (l.length === 0) this.pending.delete(k);
      },
    };
  }

  close(): void {
    this.unsubscribe();
  }
}

/**
 * Proposes `cmd` and resolves with the result of its first application. A failure whose outcome cannot be
 * learned becomes ETIMEDOUT (the change may still be applied later); nothing is retried here.
 */
export async function commitCommand(
  backend: FileApiBackend,
  tracker: OutcomeTracker,
  cmd: Command,
): Promise<ApplyResult> {
  const payload = encodeCommand(cmd);
  const exp = tracker.expect(payload);
  try {
    let replied: unknown;
    try {
      replied = await backend.propose(payload);
    } catch (err) {
      if (exp.result()) return exp.result()!;
      // Everything committed before now is applied after a barrier: if our entry made it, we see it.
      await backend.readBarrier().catch(() => {});
      if (exp.result()) return exp.result()!;
      const e = toFileApiError(err);
      throw new FileApiError(
        "ETIMEDOUT",
        `commit not confirmed (it may still be applied; STAT shows the current version): ${e.message}`,
      );
    }
    // Applied here (a snapshot install may have hidden the entry itself: then the reply is all we have).
    const r = exp.result() ?? replied;
    if (!isApplyResult(r)) throw new FileApiError("EIO", "the state machine returned no result");
    return r;
  } finally {
    exp.dispose();
  }
}

export function isApplyResult(v: unknown): v is ApplyResult {
  return typeof v === "object" && v !== null && typeof (v as { action?: unknown }).action === "string";
}

/** The leaf results of an apply result (one for a single command). */
export function leafResults(r: ApplyResult): LeafResult[] {
  if (r.results) return r.results;
  const leaf: LeafResult = {
    applied: r.applied,
    action: r.action as LeafResult["action"],
    path: r.path ?? "",
  };
  if (r.conflictPath) leaf.conflictPath = r.conflictPath;
  if (r.detail) leaf.detail = r.detail;
  return [leaf];
}

function key(data: Uint8Array): bigint {
  return BigInt(Bun.hash(data)) ^ (BigInt(data.length) << 48n);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

export interface BatcherOptions {
  /** Most commands in one entry. */
  maxCommands?: number;
  /** Most inline bytes in one entry. */
  maxBytes?: number;
  /** Entries proposed and not yet applied at once (1 = strict group commit). Default 4: with 32 writers,
   * 4 measured 1-4 % more files/s than 2 in four alternating pairs (docs/benchmarks.md, session 13). */
  maxInflight?: number;
}

interface Queued {
  cmd: LeafCommand;
  bytes: number;
  resolve: (r: { leaf: LeafResult; index: number }) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: commands submitted while earlier entries are in flight ride together in one batch entry,
 * so a burst of small commits costs one log entry, one fsync round and one index transaction instead of
 * one each. Inside a batch the commands apply in submission order, each with its own result (two writers
 * of one path in one batch: the second one conflicts, exactly as in two entries).
 */
export class CommitBatcher {
  private readonly queue: Queued[] = [];
  private inflight = 0;
  private readonly maxCommands: number;
  private readonly maxBytes: number;
  private readonly maxInflight: number;

  constructor(
    private readonly backend: FileApiBackend,
    private readonly tracker: OutcomeTracker,
    opts: BatcherOptions = {},
  ) {
    this.maxCommands = opts.maxCommands ?? 256;
    this.maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
    this.maxInflight = opts.maxInflight ?? 4;
  }

  submit(cmd: LeafCommand): Promise<{ leaf: LeafResult; index: number }> {
    const bytes =
      cmd.op === "put" ? cmd.inline.reduce((n, c) => n + c.data.length, 0) + 64 * cmd.chunks.length : 0;
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, bytes, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    while (this.inflight < this.maxInflight && this.queue.length > 0) {
      const batch: Queued[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && batch.length < this.maxCommands) {
        const next = this.queue[0]!;
        if (batch.length > 0 && bytes + next.bytes > this.maxBytes) break;
        batch.push(this.queue.shift()!);
        bytes += next.bytes;
      }
      this.inflight++;
      void this.run(batch).finally(() => {
        this.inflight--;
        this.kick();
      });
    }
  }

  private async run(batch: Queued[]): Promise<void> {
    try {
      const cmd: Command =
        batch.length === 1 ? batch[0]!.cmd : { op: "batch", commands: batch.map((b) => b.cmd) };
      const r = await commitCommand(this.backend, this.tracker, cmd);
      const leaves = leafResults(r);
      batch.forEach((b, i) => {
        const leaf = leaves[i];
        if (leaf) b.resolve({ leaf, index: r.index });
        else
          b.reject(
            new FileApiError("EIO", `batch result has ${leaves.length} results for ${batch.length} commands`),
          );
      });
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }
}
