// The replicated file state machine. Every node applies the same committed commands in the same order:
// store chunks → resolve with vector clocks → materialise atomically → update the index in ONE sqlite
// transaction (with the applied index). Index decisions depend only on the entry and the index, never on
// local time or disk, so every node's index is identical; the disk side additionally protects local
// edits that were not proposed yet (they are moved aside, never destroyed).
//
// Durability follows etcd and hashicorp/raft: the committed raft log (fsynced on a quorum) is the write-
// ahead log, so applying does not fsync each file. Every write is atomic at once (temp file + rename);
// checkpoint() later fsyncs everything written since the previous one in one overlapping round and then
// records the durable index. A process crash loses nothing (the page cache survives it). After an OS
// crash or power cut (the boot id changed) with applies past the last checkpoint,
// repairAfterPowerLoss() checks exactly those files and rewrites any the cut left torn.
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import os from "node:os";
import type { FSM, FSMSnapshot } from "../raft/fsm.ts";
import type { Entry, SnapshotMeta } from "../raft/types.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { type Chunk, sha256Hex } from "./chunker.ts";
import {
  applyDelta,
  CommandDecodeError,
  type DeleteCommand,
  decodeCommand,
  type LeafCommand,
  leaves,
  type MkdirCommand,
  type PutCommand,
  type RmdirCommand,
} from "./commands.ts";
import { conflictName, resolveChange, type Version } from "./conflict.ts";
import { alignedBuffer, DIRECT_ALIGN } from "./direct-io.ts";
import {
  agreesWithIndex,
  type FileIndex,
  type IndexEntry,
  type LiveLocalState,
  type LocalStat,
  liveEntry,
} from "./file-index.ts";
import type { FsmEvent, FsmEvents } from "./fsm-events.ts";
import { type DiskStat, Materializer, syncPaths } from "./materializer.ts";
import { PathError } from "./paths.ts";
import type { PlacedChunk, PushStaging } from "./push-staging.ts";
import { readSnapshot, writeSnapshot } from "./snapshot-codec.ts";
import { compareClocks, incrementClock, mergeClocks, type VectorClock } from "./vector-clock.ts";

export const APPLIED_INDEX_KEY = "appliedIndex";
/** Applied index whose effects are known to be on disk (fsynced), and the boot it was recorded in. */
export const DURABLE_INDEX_KEY = "durableIndex";
export const DURABLE_BOOT_KEY = "durableBoot";
/** Errors that mean "someone changed the folder while we were applying", not a broken node. */
const RACY_DISK_CODES = new Set(["ENOENT", "ENOTDIR", "EISDIR", "EEXIST", "ENOTEMPTY"]);
/** How long a replaced file's inode is watched for late writes before it is dropped. */
const RETIRE_GRACE_MS = 3000;
/** Files of one batch written and fsynced at once (overlapping fsyncs is most of the batch speed-up). */
const STAGE_CONCURRENCY = 16;
/** Files from this size on are updated by patching the previous version (see patchPlan). */
const PATCH_MIN_BYTES = 1024 * 1024;
/** Largest patch written into the file itself (under a write lease); larger ones go to a copy. Its bytes
 * are held in memory while the lease is, so the patch never waits for the chunk store. */
const IN_PLACE_MAX_BYTES = 8 * 1024 * 1024;
/** A checkpoint covering this many written paths or more syncs the whole file system (one syncfs: one
 * write-back pass and one disk cache flush) instead of fsyncing each. */
const SYNCFS_MIN_PATHS = 16;
/** Files whose placement stat is remembered for the watcher's echo (see isEchoOfApply): a few MB. */
const ECHO_MEMORY = 16_384;
/** Index meta key: paths patched in place whose writes no checkpoint has fsynced yet (see patchFile). */
export const IN_PLACE_PATCHES_KEY = "inPlacePatches";
/** Largest read of back-to-back packed chunks when writing a file (one buffer per file being written). */
const READ_RUN_BYTES = 1024 * 1024;
export const DEFAULT_DIR_MODE = 0o755;

export interface FileFsmDeps {
  /** The user's folder. */
  root: string;
  nodeId: string;
  index: FileIndex;
  chunks: ChunkStore;
  /** Fetches chunks this node lacks from peers (the origin is the likeliest holder). */
  /** With `sink`, the fetcher may hand chunks over in pieces as they arrive (bounded memory for a large
   * file) instead of returning them. */
  fetchChunks: (
    hashes: string[],
    hint: { origin: string; path?: string },
    sink?: (chunks: Chunk[]) => Promise<void>,
  ) => Promise<Chunk[]>;
  /** Monotonic-ish milliseconds, for latency numbers in events only; never for decisions. */
  clock?: () => number;
  events?: FsmEvents;
  /** The hash of a file whose current stat is exactly what the local scanner hashed (our own proposal),
   * so applying it need not read the file again. */
  knownHash?: (rel: string, st: { size: number; mtimeMs: number; ino: number }) => string | undefined;
  /** False when knownHash cannot know `rel` (this node's scanner did not propose it: a file API write,
   * say), so the file need not even be looked at for it. */
  proposedHere?: (rel: string) => boolean;
  /** Told how many bytes of chunks an apply just read to write a file (the node paces garbage collection). */
  onBulkBytes?: (bytes: number) => void;
  /** Files assembled from pushed chunks ahead of their commit (see PushStaging): an apply that finds
   * its file there only completes and renames it. */
  staging?: PushStaging;
  /** Makes the whole file system `dir` is on durable at once (syncfs; see FileSystemSyncer): false when
   * it cannot, and the checkpoint then fsyncs what it wrote one by one. */
  syncFileSystem?: (dir: string) => Promise<boolean>;
  /** Identifies the current boot of the machine (default: Linux's boot_id); a change means the page
   * cache was lost since the last checkpoint. Injected by tests to simulate a power cut. */
  bootId?: string;
}

export type LeafAction =
  | "put"
  | "conflict"
  | "delete"
  | "mkdir"
  | "rmdir"
  | "noop"
  | "drop-delete"
  | "not-empty"
  | "rejected";

export interface LeafResult {
  /** True when the index changed. */
  applied: boolean;
  action: LeafAction;
  path: string;
  /** For "conflict": where the incoming version was written (on every node). */
  conflictPath?: string;
  /** Why a command changed nothing (rejected) or why this node's disk was left alone. */
  detail?: string;
}

export interface ApplyResult {
  applied: boolean;
  /** A leaf action, or "batch" (see results), "skipped" (already applied), "empty" (leader no-op),
   * "invalid" (undecodable entry; committed, so every node skips it alike). */
  action: LeafAction | "batch" | "skipped" | "empty" | "invalid";
  index: number;
  path?: string;
  conflictPath?: string;
  detail?: string;
  results?: LeafResult[];
}

/** The pending changes of one entry: reads see earlier commands of the same batch. */
class EntryTxn {
  readonly entries = new Map<string, IndexEntry>();
  readonly stats = new Map<string, LocalStat | null>();
  /** Index rows read so far (only the FSM writes entries, at commit: they cannot change under the txn).
   * A batch's files mostly share their directories, whose rows every put looks up. */
  private readonly read = new Map<string, IndexEntry | null>();
  constructor(private readonly index: FileIndex) {}

  get(p: string): IndexEntry | undefined {
    const mine = this.entries.get(p);
    if (mine) return mine;
    let row = this.read.get(p);
    if (row === undefined) {
      row = this.index.get(p) ?? null;
      this.read.set(p, row);
    }
    return row ?? undefined;
  }

  getStat(p: string): LocalStat | null {
    return this.stats.has(p) ? (this.stats.get(p) ?? null) : (this.index.getLocalStat(p) ?? null);
  }

  put(e: IndexEntry): void {
    this.entries.set(e.path, e);
  }

  setStat(p: string, s: LocalStat | null): void {
    this.stats.set(p, s);
  }

  /** Live entries strictly below `dir`, overlay-aware. */
  hasLiveChildren(dir: string): boolean {
    const prefix = `${dir}/`;
    for (const [p, e] of this.entries) if (p.startsWith(prefix) && !e.deleted) return true;
    for (const e of this.index.list({ prefix })) {
      if (!e.path.startsWith(prefix)) continue;
      const mine = this.entries.get(e.path) ?? e;
      if (!mine.deleted) return true;
    }
    return false;
  }
}

/** The chunks in which a new version of a large file differs from the previous one (see patchPlan). */
interface PatchPlan {
  changed: { offset: number; hash: string }[];
  changedBytes: number;
  inline: Map<string, Uint8Array>;
}

/** What placing a file on this node's disk did. */
interface Placed {
  stat: LocalStat | null;
  wrote: boolean;
  detail?: string;
}

export class FileFSM implements FSM {
  private readonly mat: Materializer;
  private applied: number;
  /** Chunk sets of snapshots being persisted: gc must keep them. */
  private readonly pinned = new Set<Set<string>>();
  /** Applies, restores and snapshot captures run one at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Temp files holding the bytes of the current batch's puts (see stageBatch). */
  private staged = new Map<LeafCommand, string>();
  /** Paths renamed into place by the entry being applied, with their hashes, until its index commit. */
  private readonly placing = new Map<string, string>();
  private durable: number;
  private readonly bootId: string;
  /** Set at open when a power cut may have torn files applied after `durable`. */
  private suspectAfter: number | null = null;
  private checkpointTail: Promise<unknown> = Promise.resolve();
  /** Paths patched in place and not yet fsynced by a checkpoint, each with the patch's sequence number:
   * until then a crash may leave one half patched, which is ours to rewrite, not a person's edit. */
  private readonly unsyncedPatches = new Map<string, number>();
  private patchSeq = 0;
  /** The marked paths found at open: a previous process may have died in the middle of patching them. */
  private readonly interruptedPatches = new Set<string>();
  /** What the last applies recorded per placed file (its index row's local stat and mode), newest last:
   * lets the watcher's echo of our own write be recognised without a scan (isEchoOfApply). */
  private readonly placedStats = new Map<string, LiveLocalState>();

  constructor(private readonly d: FileFsmDeps) {
    this.mat = new Materializer(d.root);
    this.applied = readApplied(d.index);
    this.bootId = d.bootId ?? currentBootId();
    const boot = d.index.getMeta(DURABLE_BOOT_KEY);
    if (boot === undefined) {
      // A new state, or one from before deferred durability (it was fsynced at every apply).
      d.index.transaction(() => {
        d.index.setMeta(DURABLE_INDEX_KEY, String(this.applied));
        d.index.setMeta(DURABLE_BOOT_KEY, this.bootId);
      });
    }
    this.durable = readIndexMeta(d.index, DURABLE_INDEX_KEY);
    for (const p of readPatchMarker(d.index)) {
      this.unsyncedPatches.set(p, 0);
      this.interruptedPatches.add(p);
    }
    if (this.applied > this.durable && boot !== undefined && boot !== this.bootId) {
      this.suspectAfter = this.durable;
    }
  }

  /** The applied index known to be on disk. */
  durableIndex(): number {
    return this.durable;
  }

  /**
   * Makes every apply so far durable: fsyncs the files, directories and chunks written since the
   * previous checkpoint (overlapping, beside later applies), then records the index. Resolves to it.
   */
  checkpoint(): Promise<number> {
    const run = this.checkpointTail.then(() => this.checkpointNow());
    this.checkpointTail = run.catch(() => {});
    return run;
  }

  private async checkpointNow(): Promise<number> {
    const { idx, files, dirs, patches } = await this.serial(async () => ({
      idx: this.applied,
      patches: new Map(this.unsyncedPatches),
      ...this.mat.takeUnsynced(),
    }));
    await Promise.all([this.syncWritten(files, dirs), this.d.chunks.sync()]);
    // Patched files are on disk now, unless patched again since (that patch stays marked).
    let patchesSynced = false;
    for (const [p, seq] of patches) {
      if (this.unsyncedPatches.get(p) !== seq) continue;
      this.unsyncedPatches.delete(p);
      patchesSynced = true;
    }
    if (patchesSynced) this.d.index.transactionDeferred(() => this.writePatchMarker());
    if (idx > this.durable || this.d.index.getMeta(DURABLE_BOOT_KEY) !== this.bootId) {
      this.d.index.transaction(() => {
        this.d.index.setMeta(DURABLE_INDEX_KEY, String(idx));
        this.d.index.setMeta(DURABLE_BOOT_KEY, this.bootId);
      });
      this.durable = Math.max(this.durable, idx);
    }
    return this.durable;
  }

  /** Makes the files and directories a checkpoint covers durable: many at once with one syncfs, a few
   * (or where syncfs is not available) with an fsync each. */
  private async syncWritten(files: string[], dirs: string[]): Promise<void> {
    if (files.length + dirs.length >= SYNCFS_MIN_PATHS && (await this.d.syncFileSystem?.(this.d.root)))
      return;
    await syncPaths(files, dirs);
  }

  /**
   * After a power cut: files applied past the last checkpoint may be empty or torn on disk although the
   * index has them. Each such file is checked (hash) and rewritten from its chunks (fetched from peers if
   * the cut took them too). Content that is neither the index's version nor empty/zeroed is moved
   * aside, as any unknown local edit. Run once after raft starts and before the scanner looks at the
   * folder. Returns how many files were rewritten.
   */
  repairAfterPowerLoss(): Promise<number> {
    return this.serial(async () => {
      const patched = await this.repairPatches();
      const after = this.suspectAfter;
      if (after === null) return patched;
      this.placedStats.clear(); // local stats are rewritten outside commit()
      let rewritten = patched;
      const txn = new EntryTxn(this.d.index);
      const rows = this.d.index
        .list({})
        .filter((e) => !e.deleted && e.updatedIndex > after)
        .sort((a, b) => cmp(a.path, b.path));
      for (const e of rows) {
        const placed = await this.guardDisk(async () => {
          if (e.kind === "dir") {
            await this.prepareDir(e.path, e.mode, e.origin, txn);
            return { stat: null, wrote: false };
          }
          // The stat cannot be trusted after a power cut: always hash.
          return this.placeVersion(e, txn, {
            hashOnDisk: () => hashStream(this.mat.read(e.path)),
            replaceable: (disk) => this.isTornCopy(e, disk),
            needChunks: () => this.ensureChunks({ path: e.path, chunks: e.chunks, origin: e.origin }),
          });
        });
        if (e.kind === "file") txn.setStat(e.path, placed.stat);
        if (placed.wrote) rewritten++;
      }
      await Promise.all([this.mat.syncAll(), this.d.chunks.sync()]);
      this.d.index.transaction(() => {
        for (const [p, s] of txn.stats) this.d.index.setLocalStat(p, s);
        this.d.index.setMeta(DURABLE_INDEX_KEY, String(this.applied));
        this.d.index.setMeta(DURABLE_BOOT_KEY, this.bootId);
      });
      this.durable = this.applied;
      this.suspectAfter = null;
      return rewritten;
    });
  }

  /**
   * Files a crash may have left half patched in place (the marker survived it): each is made the index's
   * version again, whatever its bytes (they are ours, not a person's edit). A patch whose entry did not
   * reach the index is then simply applied again. Returns how many files were rewritten.
   */
  private async repairPatches(): Promise<number> {
    if (this.interruptedPatches.size === 0) return 0;
    this.placedStats.clear(); // local stats are rewritten outside commit()
    let rewritten = 0;
    const txn = new EntryTxn(this.d.index);
    for (const p of [...this.interruptedPatches].sort(cmp)) {
      const e = liveEntry(this.d.index.get(p));
      if (e?.kind !== "file") continue;
      const placed = await this.guardDisk(() =>
        this.placeVersion(e, txn, {
          hashOnDisk: () => hashStream(this.mat.read(p)),
          replaceable: async () => true,
          needChunks: () => this.ensureChunks({ path: p, chunks: e.chunks, origin: e.origin }),
        }),
      );
      txn.setStat(p, placed.stat);
      if (placed.wrote) rewritten++;
    }
    await Promise.all([this.mat.syncAll(), this.d.chunks.sync()]);
    for (const p of this.interruptedPatches)
      if (this.unsyncedPatches.get(p) === 0) this.unsyncedPatches.delete(p);
    this.interruptedPatches.clear();
    this.d.index.transaction(() => {
      for (const [p, s] of txn.stats) this.d.index.setLocalStat(p, s);
      this.writePatchMarker();
    });
    return rewritten;
  }

  /** Records unsyncedPatches in the index (inside the caller's transaction). */
  private writePatchMarker(): void {
    const paths = [...this.unsyncedPatches.keys()];
    if (paths.length === 0) this.d.index.deleteMeta(IN_PLACE_PATCHES_KEY);
    else this.d.index.setMeta(IN_PLACE_PATCHES_KEY, JSON.stringify(paths));
  }

  /**
   * Puts file version `e` at its path (restore, repair): nothing is written when the disk already holds
   * its bytes (mode and mtime are fixed); other bytes there are replaced when `replaceable` says so and
   * moved aside otherwise. `needChunks` runs (once) before the version's chunks are first read.
   */
  private async placeVersion(
    e: IndexEntry,
    txn: EntryTxn,
    o: {
      hashOnDisk: (disk: DiskStat) => Promise<string>;
      replaceable: (disk: DiskStat, hash: string) => Promise<boolean>;
      needChunks?: () => Promise<void>;
    },
  ): Promise<Placed> {
    let chunksReady: Promise<void> | undefined;
    const needChunks = () => (chunksReady ??= o.needChunks?.() ?? Promise.resolve());
    const disk = await this.preparePath(e.path, e.origin, txn);
    if (disk?.kind === "file") {
      const h = await o.hashOnDisk(disk);
      if (h === e.hash) return { stat: await this.settle(e.path, disk, e.mode, e.mtimeMs), wrote: false };
      await needChunks();
      if (!(await o.replaceable(disk, h))) await this.moveAside(e.path, disk, txn);
    } else if (disk) {
      await this.moveAside(e.path, disk, txn);
    }
    await needChunks();
    const st = await this.mat.writeFile(e.path, this.chunkBytes(e.chunks), e.mode, e.mtimeMs);
    return { stat: st ? localStat(st) : null, wrote: true };
  }

  /**
   * What a power cut leaves of a file whose data had not all reached the disk: no longer than the
   * agreed version, and every byte either zero (a block never written) or the agreed byte at that
   * offset (a prefix, or some of the blocks). A person's edit practically never looks like that.
   */
  private async isTornCopy(e: IndexEntry, disk: DiskStat): Promise<boolean> {
    if (disk.size > e.size) return false;
    const agreed = this.chunkBytes(e.chunks);
    let want: Uint8Array = new Uint8Array(0);
    let at = 0;
    for await (const piece of this.mat.read(e.path)) {
      for (let i = 0; i < piece.length; i++) {
        while (at >= want.length) {
          const next = await agreed.next();
          if (next.done) return false;
          want = next.value;
          at = 0;
        }
        const b = piece[i]!;
        if (b !== 0 && b !== want[at]) return false;
        at++;
      }
    }
    return true;
  }

  appliedIndex(): number {
    return this.applied;
  }

  apply(entry: Entry): Promise<ApplyResult> {
    return this.serial(() => this.applyNow(entry));
  }

  /**
   * Several consecutive committed entries at once: one index transaction, one directory-sync round and
   * one parallel staging pass for all of them (the per-entry fsyncs were most of the apply cost).
   * Decisions are exactly those of applying them one by one: the shared transaction sees every earlier
   * command, and nothing depends on where batch boundaries fall, so nodes that batch differently agree.
   */
  applyMany(entries: Entry[]): Promise<ApplyResult[]> {
    return this.serial(() => this.applyManyNow(entries));
  }

  private async applyManyNow(entries: Entry[]): Promise<ApplyResult[]> {
    this.placing.clear();
    const out: ApplyResult[] = [];
    const work: { entry: Entry; cmds: LeafCommand[]; slot: number }[] = [];
    const pendingEvents: FsmEvent[] = [];
    let last = this.applied;
    for (const entry of entries) {
      const idx = entry.index;
      if (idx <= last) {
        out.push({ applied: false, action: "skipped", index: idx });
        continue;
      }
      last = idx;
      if (entry.data.length === 0) {
        out.push({ applied: false, action: "empty", index: idx });
        continue;
      }
      try {
        work.push({ entry, cmds: leaves(decodeCommand(entry.data)), slot: out.length });
        out.push({ applied: false, action: "skipped", index: idx }); // replaced below
      } catch (e) {
        if (!(e instanceof CommandDecodeError)) throw e;
        pendingEvents.push({
          type: "skip",
          index: idx,
          applyMs: 0,
          path: "",
          origin: "",
          reason: "rejected",
          detail: e.message,
        });
        out.push({ applied: false, action: "invalid", index: idx, detail: e.message });
      }
    }
    if (last === this.applied) return out;
    const allCmds = work.flatMap((w) => w.cmds);
    await this.storeInline(allCmds);
    const staged = await this.stageBatch(allCmds);
    const txn = new EntryTxn(this.d.index);
    try {
      for (const w of work) {
        const idx = w.entry.index;
        const results: LeafResult[] = [];
        for (const cmd of w.cmds) {
          const t0 = this.now();
          const r = await this.applyLeaf(cmd, idx, txn);
          results.push(r);
          pendingEvents.push(this.eventFor(cmd, r, idx, this.now() - t0));
        }
        out[w.slot] =
          w.cmds.length === 1
            ? { ...results[0]!, index: idx }
            : { applied: results.some((r) => r.applied), action: "batch", index: idx, results };
      }
    } finally {
      for (const tmp of staged.values()) await this.mat.discardStaged(tmp);
      this.staged.clear();
    }
    this.commit(last, txn);
    for (const e of pendingEvents) this.emit(e);
    return out;
  }

  async snapshot(): Promise<FSMSnapshot> {
    // The log is compacted behind snapshots: what it drops must be on disk here first.
    await this.checkpoint();
    return this.serial(async () => {
      const entries = this.d.index.list({ includeDeleted: true }).sort((a, b) => cmp(a.path, b.path));
      const refs = new Set<string>();
      for (const e of entries) if (!e.deleted) for (const h of e.chunks) refs.add(h);
      this.pinned.add(refs);
      const appliedIndex = this.applied;
      const chunks = this.d.chunks;
      const pinned = this.pinned;
      return {
        persist: (sink) => writeSnapshot(sink, appliedIndex, entries, [...refs].sort(), chunks),
        release: () => {
          pinned.delete(refs);
        },
      } satisfies FSMSnapshot;
    });
  }

  restore(meta: SnapshotMeta, data: AsyncIterable<Uint8Array>): Promise<void> {
    return this.serial(() => this.restoreNow(meta, data));
  }

  /** Removes chunks no index entry (and no snapshot being persisted) refers to. */
  gc(minAgeMs?: number): Promise<{ removed: number; bytes: number }> {
    return this.d.chunks.gc((h) => {
      for (const set of this.pinned) if (set.has(h)) return true;
      return this.d.index.isChunkReferenced(h);
    }, minAgeMs);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  private now(): number {
    return this.d.clock?.() ?? 0;
  }

  private emit(e: FsmEvent): void {
    this.d.events?.emit(e);
  }

  // ---------------------------------------------------------------------------------------------- apply

  private async applyNow(entry: Entry): Promise<ApplyResult> {
    return (await this.applyManyNow([entry]))[0]!;
  }

  /** True while an apply is placing something at `rel` and has not committed the index yet. */
  isPlacing(rel: string): boolean {
    return this.placing.has(rel);
  }

  /** True while an apply is placing `hash` at `rel` and has not committed the index yet (echo guard). */
  isBeingApplied(rel: string, hash: string): boolean {
    return this.placing.get(rel) === hash;
  }

  private commit(idx: number, txn: EntryTxn): void {
    const { index } = this.d;
    // No fsync of its own: the entries are in the committed log, and the checkpoint syncs this later.
    index.transactionDeferred(() => {
      for (const e of txn.entries.values()) index.put(e);
      for (const [p, s] of txn.stats) index.setLocalStat(p, s);
      index.setMeta(APPLIED_INDEX_KEY, String(idx));
    });
    this.rememberPlaced(txn);
    this.placing.clear();
    this.applied = idx;
  }

  /**
   * Whether `st`, an lstat of `rel` taken just now, shows exactly the file this node's applies last
   * placed there: same inode, size, mtime and mode as the local stat and entry the index recorded. Then a
   * scan would find the folder agreeing with the index and propose nothing, so the watcher's event (our
   * own rename, echoed back) can be dropped without one. False means "not known": scan as usual.
   */
  isEchoOfApply(rel: string, st: { ino: number; size: number; mtimeMs: number; mode: number }): boolean {
    const p = this.placedStats.get(rel);
    return p !== undefined && agreesWithIndex(p, st);
  }

  /** Mirrors a commit's local stats into placedStats; a path whose row changed without one is forgotten. */
  private rememberPlaced(txn: EntryTxn): void {
    const m = this.placedStats;
    for (const [p, s] of txn.stats) {
      m.delete(p); // (re-inserted last: the oldest is evicted first)
      const e = s ? txn.get(p) : undefined;
      if (s && e && !e.deleted && e.kind === "file") m.set(p, { kind: "file", mode: e.mode, stat: s });
    }
    for (const p of txn.entries.keys()) if (!txn.stats.has(p)) m.delete(p);
    while (m.size > ECHO_MEMORY) m.delete(m.keys().next().value!);
  }

  private applyLeaf(cmd: LeafCommand, idx: number, txn: EntryTxn): Promise<LeafResult> {
    switch (cmd.op) {
      case "put":
        return this.applyPut(cmd, idx, txn);
      case "delete":
        return this.applyDelete(cmd, idx, txn);
      case "mkdir":
        return this.applyMkdir(cmd, idx, txn);
      case "rmdir":
        return this.applyRmdir(cmd, idx, txn);
    }
  }

  private async applyPut(cmd: PutCommand, idx: number, txn: EntryTxn): Promise<LeafResult> {
    const blocker = fileAncestor(cmd.path, txn);
    if (blocker) return rejected(cmd.path, `${blocker} is a file, so ${cmd.path} cannot exist`);
    const cur = txn.get(cmd.path);
    let target = cmd.path;
    let action: "put" | "conflict";
    if (cur && !cur.deleted && cur.kind === "dir") {
      action = "conflict"; // a directory holds the name: the file goes beside it
    } else {
      const res = resolveChange(cur && version(cur), { base: cmd.base, hash: cmd.hash, deleted: false });
      if (res.action === "noop") {
        // Same bytes: still a change when only the mode moved forward.
        const modeChange = cur && !cur.deleted && cur.mode !== cmd.mode && basedOn(cmd.base, cur.clock);
        if (!modeChange) return { applied: false, action: "noop", path: cmd.path };
        action = "put";
      } else if (res.action === "conflict") {
        action = "conflict";
      } else {
        action = "put";
      }
    }
    let prev = cur;
    if (action === "conflict") {
      // The first free copy name, or the copy that already holds these bytes (a retried or duplicated
      // proposal: nothing new). Decided from the index only, so every node picks the same name.
      for (let n = 1; ; n++) {
        target = conflictName(cmd.path, cmd.mtimeMs, cmd.origin, n);
        prev = txn.get(target);
        if (!prev || prev.deleted) break;
        if (prev.kind === "file" && prev.hash === cmd.hash && prev.mode === cmd.mode) {
          return { applied: false, action: "noop", path: cmd.path, conflictPath: target };
        }
      }
      if (prev && !prev.deleted && prev.kind === "dir") {
        return rejected(cmd.path, `conflict copy ${target} is a directory`);
      }
    }
    this.ensureAncestorEntries(target, cmd.origin, idx, txn);
    await this.ensureChunks(cmd);
    this.placing.set(target, cmd.hash);
    const placed = await this.guardDisk(() => this.placeFile(target, cmd, prev, txn));
    txn.put({
      path: target,
      kind: "file",
      hash: cmd.hash,
      size: cmd.size,
      mode: cmd.mode,
      mtimeMs: cmd.mtimeMs,
      chunks: cmd.chunks,
      clock: incrementClock(mergeClocks(cmd.base, prev?.clock ?? {}), cmd.origin),
      deleted: false,
      origin: cmd.origin,
      updatedIndex: idx,
    });
    txn.setStat(target, placed.stat);
    const out: LeafResult = { applied: true, action, path: cmd.path };
    if (action === "conflict") out.conflictPath = target;
    if (placed.detail) out.detail = placed.detail;
    return out;
  }

  private async applyDelete(cmd: DeleteCommand, idx: number, txn: EntryTxn): Promise<LeafResult> {
    const cur = txn.get(cmd.path);
    if (!cur || cur.deleted || cur.kind !== "file") return { applied: false, action: "noop", path: cmd.path };
    const res = resolveChange(version(cur), { base: cmd.base, hash: "", deleted: true });
    if (res.action === "drop-delete" || res.action === "conflict") {
      return { applied: false, action: "drop-delete", path: cmd.path };
    }
    if (res.action === "noop") return { applied: false, action: "noop", path: cmd.path };
    const placed = await this.guardDisk(() => this.removeFile(cmd.path, cmd.origin, cur, txn));
    txn.put({
      ...cur,
      hash: "",
      size: 0,
      chunks: [],
      deleted: true,
      clock: incrementClock(mergeClocks(cmd.base, cur.clock), cmd.origin),
      origin: cmd.origin,
      updatedIndex: idx,
    });
    txn.setStat(cmd.path, null);
    const out: LeafResult = { applied: true, action: "delete", path: cmd.path };
    if (placed.detail) out.detail = placed.detail;
    return out;
  }

  private async applyMkdir(cmd: MkdirCommand, idx: number, txn: EntryTxn): Promise<LeafResult> {
    const blocker = fileAncestor(cmd.path, txn);
    if (blocker) return rejected(cmd.path, `${blocker} is a file, so ${cmd.path} cannot exist`);
    const cur = txn.get(cmd.path);
    if (cur && !cur.deleted && cur.kind === "file") return rejected(cmd.path, `${cmd.path} is a file`);
    if (cur && !cur.deleted && (cur.mode === cmd.mode || !basedOn(cmd.base, cur.clock))) {
      return { applied: false, action: "noop", path: cmd.path };
    }
    this.ensureAncestorEntries(cmd.path, cmd.origin, idx, txn);
    const placed = await this.guardDisk(async () => {
      await this.prepareDir(cmd.path, cmd.mode, cmd.origin, txn);
      await this.mat.chmodDir(cmd.path, cmd.mode);
      return { stat: null, wrote: true };
    });
    txn.put(
      dirEntry(
        cmd.path,
        cmd.mode,
        incrementClock(mergeClocks(cmd.base, cur?.clock ?? {}), cmd.origin),
        cmd.origin,
        idx,
      ),
    );
    const out: LeafResult = { applied: true, action: "mkdir", path: cmd.path };
    if (placed.detail) out.detail = placed.detail;
    return out;
  }

  private async applyRmdir(cmd: RmdirCommand, idx: number, txn: EntryTxn): Promise<LeafResult> {
    const cur = txn.get(cmd.path);
    if (!cur || cur.deleted || cur.kind !== "dir") return { applied: false, action: "noop", path: cmd.path };
    // Someone put something inside meanwhile: keep the directory (nothing written is lost).
    if (txn.hasLiveChildren(cmd.path)) return { applied: false, action: "not-empty", path: cmd.path };
    const placed = await this.guardDisk(async () => {
      const removed = await this.mat.removeDirIfEmpty(cmd.path);
      const r: Placed = { stat: null, wrote: removed };
      if (!removed) r.detail = "directory kept on this node: it still holds untracked files";
      return r;
    });
    txn.put({
      ...cur,
      deleted: true,
      clock: incrementClock(mergeClocks(cmd.base, cur.clock), cmd.origin),
      origin: cmd.origin,
      updatedIndex: idx,
    });
    const out: LeafResult = { applied: true, action: "rmdir", path: cmd.path };
    if (placed.detail) out.detail = placed.detail;
    return out;
  }

  /** Index entries for missing or deleted ancestor directories (deterministic: mode 0755, origin's tick). */
  private ensureAncestorEntries(p: string, origin: string, idx: number, txn: EntryTxn): void {
    const segs = p.split("/");
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join("/");
      const e = txn.get(dir);
      if (e && !e.deleted && e.kind === "dir") continue;
      txn.put(dirEntry(dir, DEFAULT_DIR_MODE, incrementClock(e?.clock ?? {}, origin), origin, idx));
    }
  }

  /** The inline chunks of every put of the entry, made durable in one go (one fsync round, not one per file). */
  private async storeInline(cmds: LeafCommand[]): Promise<void> {
    const store = this.d.chunks;
    const fresh = new Map<string, Chunk>();
    for (const c of cmds) {
      if (c.op !== "put") continue;
      for (const x of c.inline) if (!fresh.has(x.hash) && !store.has(x.hash)) fresh.set(x.hash, x);
      // A chunk sent as a difference: rebuilt from its base where this node has that (else fetched with
      // the chunks neither stored nor carried, by ensureChunks).
      for (const d of c.deltas ?? []) {
        if (fresh.has(d.hash) || store.has(d.hash)) continue;
        const base = fresh.get(d.base)?.data ?? (await store.get(d.base));
        const data = base ? applyDelta(d, base) : null;
        if (data && sha256Hex(data) === d.hash) fresh.set(d.hash, { hash: d.hash, data });
      }
    }
    // Durable already in the committed log: the checkpoint fsyncs them.
    if (fresh.size > 0) await store.putMany([...fresh.values()], { durable: false });
  }

  /** Fetches chunks neither stored nor inline from peers; afterwards every chunk is local. */
  private async ensureChunks(cmd: Pick<PutCommand, "path" | "chunks" | "origin">): Promise<void> {
    const store = this.d.chunks;
    const missing = [...new Set(cmd.chunks)].filter((h) => !store.has(h));
    if (missing.length === 0) return;
    const wanted = new Set(missing);
    // Peers hold them durably (a put commits only once a quorum stored its chunks): checkpoint later.
    const keep = (chunks: Chunk[]) =>
      store.putMany(
        chunks.filter((c) => wanted.has(c.hash)),
        { durable: false },
      );
    await keep(await this.d.fetchChunks(missing, { origin: cmd.origin, path: cmd.path }, keep));
    const still = missing.filter((h) => !store.has(h));
    if (still.length > 0) {
      throw new Error(`cannot apply ${cmd.path}: ${still.length} chunk(s) unavailable (e.g. ${still[0]})`);
    }
  }

  // ----------------------------------------------------------------------------------------------- disk

  /**
   * Runs a disk step; a path this node cannot touch safely (a symlink leading out of the folder) is left
   * alone while the index still follows the log, so every node's index stays identical.
   */
  private async guardDisk(fn: () => Promise<Placed>): Promise<Placed> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof PathError)
          return { stat: null, wrote: false, detail: `not written here: ${e.message}` };
        // The folder changed under the apply (a file deleted or replaced by a directory a moment ago):
        // look again once; if it keeps moving, the index still records the version and the scanner
        // proposes whatever the person left on disk. A user's action must never stop the node.
        const c = (e as { code?: string }).code;
        if (!c || !RACY_DISK_CODES.has(c)) throw e;
        if (attempt >= 2) return { stat: null, wrote: false, detail: `disk changed during apply (${c})` };
      }
    }
  }

  /** Writes `cmd`'s bytes at `target`, first saving any local edit that is in the way. */
  private async placeFile(
    target: string,
    cmd: PutCommand,
    prev: IndexEntry | undefined,
    txn: EntryTxn,
  ): Promise<Placed> {
    const disk = await this.preparePath(target, cmd.origin, txn);
    let holdsPrev = false;
    if (disk?.kind === "file") {
      const diskHash = await this.contentHash(target, disk, prev, txn);
      if (diskHash === cmd.hash) {
        // Already these bytes (the origin node, or a re-apply after a crash): fix mode and mtime only.
        return { stat: await this.settle(target, disk, cmd.mode, cmd.mtimeMs), wrote: false };
      }
      holdsPrev = !!prev && !prev.deleted && prev.kind === "file" && diskHash === prev.hash;
      // A file this node was patching in place when it crashed holds our bytes, not a person's edit.
      if (!holdsPrev && !this.interruptedPatches.has(target)) {
        if (cmd.origin === this.d.nodeId) {
          // Our own newer edit, still to be proposed (its path is dirty): leave it, rescan will send it.
          return { stat: null, wrote: false, detail: "newer local edit kept; it will be proposed" };
        }
        await this.moveAside(target, disk, txn);
      }
    } else if (disk) {
      await this.moveAside(target, disk, txn); // a directory, symlink or device the index does not know
    }
    let tmp = this.staged.get(cmd);
    if (tmp !== undefined) this.staged.delete(cmd);
    else if (disk?.kind === "file" && holdsPrev && prev) {
      // A small edit of a large file rewrites only the chunks that changed: in the file itself when
      // nobody has it open, else on a kernel copy of the rest.
      const plan = this.patchPlan(disk, prev, cmd);
      if (plan) {
        const st = await this.patchFile(target, disk, cmd, plan);
        if (st) return { stat: localStat(st), wrote: true };
        tmp = (await this.stagePatch(target, disk, cmd, plan)) ?? undefined;
      }
    }
    tmp ??= (await this.claimPushed(cmd)) ?? undefined;
    // The old file was checked above, but a writer may open it between that check and the swap.
    const held = disk?.kind === "file" ? await this.mat.holdOld(target) : null;
    const st =
      tmp !== undefined
        ? await this.mat.placeStaged(target, tmp)
        : await this.mat.writeFile(target, this.chunkBytes(cmd.chunks, cmd.inline), cmd.mode, cmd.mtimeMs);
    if (held && disk) await this.watchReplaced(held, target, disk);
    return { stat: st ? localStat(st) : null, wrote: true };
  }

  /**
   * Where `cmd`'s version of a large file differs from the previous version on disk: the chunks not
   * found at the same offset with the same hash. Null when patching would not save much.
   */
  private patchPlan(disk: DiskStat, prev: IndexEntry, cmd: PutCommand): PatchPlan | null {
    if (cmd.size < PATCH_MIN_BYTES || disk.size !== prev.size) return null;
    const inline = new Map(cmd.inline.map((c) => [c.hash, c.data]));
    const before = this.layoutOf(prev.chunks);
    const after = this.layoutOf(cmd.chunks, inline);
    if (!before || !after || after.size !== cmd.size) return null;
    const oldAt = new Map(before.chunks.map((c) => [c.offset, c.hash]));
    const changed: { offset: number; hash: string }[] = [];
    let changedBytes = 0;
    for (const c of after.chunks) {
      if (oldAt.get(c.offset) === c.hash) continue;
      changed.push({ offset: c.offset, hash: c.hash });
      changedBytes += c.size;
    }
    if (changedBytes > cmd.size / 2) return null;
    return { changed, changedBytes, inline };
  }

  /**
   * Patches the file itself (Materializer.patchInPlace): no copy of the unchanged bytes. Right before
   * the first byte is written the path is marked in the index (durably), and the mark stays until a
   * checkpoint has fsynced the file: a crash in between leaves bytes that are ours to rewrite
   * (repairPatches), never a torn file taken for a person's edit. Null when it cannot be done here.
   */
  private async patchFile(
    target: string,
    disk: DiskStat,
    cmd: PutCommand,
    plan: PatchPlan,
  ): Promise<DiskStat | null> {
    if (plan.changedBytes > IN_PLACE_MAX_BYTES) return null;
    const changed: { offset: number; data: Uint8Array }[] = [];
    for (const c of plan.changed)
      changed.push({ offset: c.offset, data: await this.patchBytes(plan, c.hash) });
    const seq = ++this.patchSeq;
    return this.mat.patchInPlace(target, disk, cmd.size, changed, cmd.mode, cmd.mtimeMs, () => {
      this.unsyncedPatches.set(target, seq);
      this.d.index.transaction(() => this.writePatchMarker());
    });
  }

  /**
   * The temp file the pushed chunks of `cmd` were written into as they arrived (PushStaging), completed
   * with whatever it lacks; null when there is none that fits.
   */
  private async claimPushed(cmd: PutCommand): Promise<string | null> {
    if (!this.d.staging?.holds(cmd.path, cmd.size)) return null;
    const inline = new Map(cmd.inline.map((c) => [c.hash, c.data]));
    const layout = this.layoutOf(cmd.chunks, inline);
    if (!layout || layout.size !== cmd.size) return null;
    const claimed = await this.d.staging.claim(cmd.path, cmd.size, layout.chunks);
    if (!claimed) return null;
    const bytes = this.d.chunks;
    const onBulk = this.d.onBulkBytes;
    async function* missing() {
      for (const c of claimed!.missing) {
        const data = inline.get(c.hash) ?? (await bytes.get(c.hash));
        if (!data) throw new Error(`chunk ${c.hash} vanished from the chunk store`);
        onBulk?.(data.length);
        yield { offset: c.offset, data };
      }
    }
    try {
      await this.mat.completeStaged(claimed.tmp, missing(), cmd.mode, cmd.mtimeMs);
    } catch (e) {
      await this.mat.discardStaged(claimed.tmp);
      throw e;
    }
    return claimed.tmp;
  }

  /** Where each of `hashes` starts in the file they make up, its size (from `inline` or the chunk
   * store), and the file's size; null when a chunk's size is not known here. */
  private layoutOf(
    hashes: string[],
    inline?: Map<string, Uint8Array>,
  ): { chunks: (PlacedChunk & { size: number })[]; size: number } | null {
    const chunks: (PlacedChunk & { size: number })[] = [];
    let offset = 0;
    for (const hash of hashes) {
      const size = inline?.get(hash)?.length ?? this.d.chunks.sizeOf(hash);
      if (size === null) return null;
      chunks.push({ offset, hash, size });
      offset += size;
    }
    return { chunks, size: offset };
  }

  /** Stages the patched version on a copy of the previous one (see Materializer.stagePatched). */
  private stagePatch(rel: string, disk: DiskStat, cmd: PutCommand, plan: PatchPlan): Promise<string | null> {
    return this.mat.stagePatched(
      rel,
      disk,
      cmd.size,
      plan.changed,
      (h) => this.patchBytes(plan, h),
      cmd.mode,
      cmd.mtimeMs,
    );
  }

  private async patchBytes(plan: PatchPlan, hash: string): Promise<Uint8Array> {
    const data = plan.inline.get(hash) ?? (await this.d.chunks.get(hash));
    if (!data) throw new Error(`chunk ${hash} vanished from the chunk store`);
    return data;
  }

  /**
   * Nothing a user wrote is lost even when the write races an apply: the replaced (or deleted) inode
   * is kept aside and looked at now and once more after RETIRE_GRACE_MS. If its size or mtime moved
   * since it was checked, someone wrote into it: it goes back into the folder as a conflict copy
   * (an ordinary new local file, which the scanner proposes). Otherwise it is dropped.
   */
  private async watchReplaced(held: string, rel: string, checked: DiskStat): Promise<void> {
    const inspect = async (final: boolean): Promise<boolean> => {
      const now = await this.mat.statHeld(held);
      if (!now) return true;
      if (now.size !== checked.size || now.mtimeMs !== checked.mtimeMs) {
        await this.rescueHeld(held, rel, now);
        return true;
      }
      if (final) await this.mat.dropHeld(held);
      return final;
    };
    if (await inspect(false)) return;
    const timer = setTimeout(() => {
      void inspect(true).catch(() => {});
    }, RETIRE_GRACE_MS);
    timer.unref?.();
  }

  private async rescueHeld(held: string, rel: string, st: DiskStat): Promise<void> {
    for (let n = 1; n < 1000; n++) {
      const name = conflictName(rel, Math.max(0, Math.floor(st.mtimeMs)), this.d.nodeId, n);
      if ((await this.mat.stat(name)) !== null || this.d.index.get(name)?.deleted === false) continue;
      await this.mat.restoreHeld(held, name);
      this.emit({ type: "local-edit-preserved", index: this.applied, applyMs: 0, path: rel, movedTo: name });
      return;
    }
  }

  /**
   * For a batch, the bytes of every put are written to durable temp files in parallel before the
   * in-order apply loop (which then only renames): fsyncs overlap instead of queueing one by one.
   * Staging decides nothing; files a decision does not use are discarded.
   */
  private async stageBatch(cmds: LeafCommand[]): Promise<Map<LeafCommand, string>> {
    const staged = new Map<LeafCommand, string>();
    // Large files are left to the apply loop, where a small edit can be patched in (stagePatch).
    const puts: PutCommand[] = [];
    for (const c of cmds) {
      if (c.op === "put" && c.size < PATCH_MIN_BYTES && !(await this.holdsProposed(c))) puts.push(c);
    }
    if (puts.length < 2) return staged;
    for (const c of puts) await this.ensureChunks(c);
    let next = 0;
    const worker = async () => {
      while (next < puts.length) {
        const c = puts[next++]!;
        staged.set(c, await this.mat.stage(this.chunkBytes(c.chunks, c.inline), c.mode, c.mtimeMs));
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(STAGE_CONCURRENCY, puts.length) }, worker));
    } catch (e) {
      for (const tmp of staged.values()) await this.mat.discardStaged(tmp);
      throw e;
    }
    this.staged = staged;
    return staged;
  }

  /** The bytes at the put's path are the very ones this node proposed (its own edit, unchanged since):
   * the apply keeps them, so staging a copy would only create and delete a temp file. */
  private async holdsProposed(c: PutCommand): Promise<boolean> {
    if (c.origin !== this.d.nodeId || !this.d.knownHash || this.d.proposedHere?.(c.path) === false)
      return false;
    const disk = await this.mat.stat(c.path);
    return disk?.kind === "file" && this.d.knownHash(c.path, disk) === c.hash;
  }

  private async removeFile(p: string, origin: string, cur: IndexEntry, txn: EntryTxn): Promise<Placed> {
    const disk = await this.mat.stat(p);
    if (!disk) return { stat: null, wrote: false };
    if (disk.kind !== "file") return { stat: null, wrote: false, detail: "not a file here; left alone" };
    const diskHash = await this.contentHash(p, disk, cur, txn);
    if (diskHash !== cur.hash) {
      if (origin === this.d.nodeId) return { stat: null, wrote: false, detail: "recreated locally; kept" };
      await this.moveAside(p, disk, txn);
      return { stat: null, wrote: true };
    }
    const held = await this.mat.holdOld(p);
    await this.mat.removeFile(p);
    if (held) await this.watchReplaced(held, p, disk);
    return { stat: null, wrote: true };
  }

  /** Makes every ancestor of `p` a directory on disk (saving files that stand in the way); lstats `p`. */
  private async preparePath(p: string, origin: string, txn: EntryTxn): Promise<DiskStat | null> {
    // Usually the parent is already there. One walk to `p` checks every ancestor on the way (a symlink
    // only if it stays inside) and stats the parent and `p`; the walk of prepareDir stats each level again.
    const { stat, parentIsDir } = this.mat.statWithParent(p);
    if (parentIsDir) return stat;
    await this.prepareDir(p.slice(0, p.lastIndexOf("/")), DEFAULT_DIR_MODE, origin, txn, true);
    return this.mat.stat(p);
  }

  private async prepareDir(
    dir: string,
    mode: number,
    _origin: string,
    txn: EntryTxn,
    ancestorsOnly = false,
  ): Promise<void> {
    const segs = dir.split("/");
    for (let i = 1; i <= segs.length; i++) {
      const sub = segs.slice(0, i).join("/");
      const st = await this.mat.stat(sub);
      if (st && st.kind !== "dir" && st.kind !== "symlink") await this.moveAside(sub, st, txn);
      const e = txn.get(sub);
      await this.mat.ensureDir(
        sub,
        i === segs.length && !ancestorsOnly ? mode : (e?.mode ?? DEFAULT_DIR_MODE),
      );
    }
  }

  /** The stat of a file whose bytes are right, after fixing mode/mtime only if they differ (no needless
   * attribute change for the watcher to report). */
  private async settle(p: string, disk: DiskStat, mode: number, mtimeMs: number): Promise<LocalStat> {
    if (disk.mode === (mode & 0o7777) && disk.mtimeMs === mtimeMs) return localStat(disk);
    return localStat(await this.mat.touch(p, mode, mtimeMs));
  }

  /** Hash of the bytes at `p`; skips reading when the stat proves they are the index's version. */
  private async contentHash(
    p: string,
    disk: DiskStat,
    cur: IndexEntry | undefined,
    txn: EntryTxn,
  ): Promise<string> {
    const ls = txn.getStat(p);
    if (cur && !cur.deleted && cur.kind === "file" && ls && sameStat(ls, disk)) return cur.hash;
    return this.d.knownHash?.(p, disk) ?? hashStream(this.mat.read(p));
  }

  /** Renames a local, unproposed thing to a conflict name on this node only; the watcher proposes it. */
  private async moveAside(p: string, disk: DiskStat, txn: EntryTxn): Promise<string> {
    let t = Math.max(0, Math.floor(disk.mtimeMs));
    for (let attempt = 0; ; attempt++) {
      const name = conflictName(p, t, this.d.nodeId);
      const taken = (await this.mat.stat(name)) !== null || (txn.get(name) && !txn.get(name)!.deleted);
      if (!taken) {
        await this.mat.move(p, name);
        this.emit({
          type: "local-edit-preserved",
          index: this.applied + 1,
          applyMs: 0,
          path: p,
          movedTo: name,
        });
        return name;
      }
      if (attempt > 1000) throw new Error(`no free conflict name for ${p}`);
      t += 1000;
    }
  }

  /** The file's bytes, in order. Chunks that rode inline in the entry (already hash-checked when
   * stored) are used as they are; the rest are read (and verified) from the chunk store, runs of packed
   * chunks at once into one buffer. A piece is valid until the next one is asked for. */
  private async *chunkBytes(
    hashes: string[],
    inline?: { hash: string; data: Uint8Array }[],
  ): AsyncGenerator<Uint8Array> {
    const known = inline && inline.length > 0 ? new Map(inline.map((c) => [c.hash, c.data])) : undefined;
    let buf: Uint8Array | undefined;
    for (let i = 0; i < hashes.length; ) {
      const h = hashes[i]!;
      const given = known?.get(h);
      if (!given) {
        // (Room for the aligned blocks around a run: packs are read with direct I/O.)
        buf ??= alignedBuffer(Math.min(READ_RUN_BYTES, this.bytesOf(hashes)) + 2 * DIRECT_ALIGN);
        const run = this.d.chunks.readRun(hashes, i, buf);
        if (run.chunks > 0) {
          this.d.onBulkBytes?.(run.bytes);
          yield run.data;
          i += run.chunks;
          continue;
        }
      }
      const data = given ?? (await this.d.chunks.get(h));
      if (!data) throw new Error(`chunk ${h} vanished from the chunk store`);
      this.d.onBulkBytes?.(data.length);
      yield data;
      i++;
    }
  }

  /** Upper bound of the bytes of `hashes` that are stored (for sizing a read buffer). */
  private bytesOf(hashes: string[]): number {
    let n = 0;
    for (const h of hashes) n += this.d.chunks.sizeOf(h) ?? 0;
    return n;
  }

  private eventFor(cmd: LeafCommand, r: LeafResult, index: number, applyMs: number): FsmEvent {
    if (r.action === "put" || r.action === "mkdir") {
      const put = cmd.op === "put" ? cmd : undefined;
      return {
        type: "apply",
        op: r.action,
        index,
        applyMs,
        path: r.path,
        origin: cmd.origin,
        size: put?.size ?? 0,
        hash: put?.hash ?? "",
        mtimeMs: put?.mtimeMs ?? 0,
        wrote: r.detail === undefined,
      };
    }
    if (r.action === "conflict") {
      const put = cmd as PutCommand;
      return {
        type: "conflict",
        index,
        applyMs,
        path: r.path,
        conflictPath: r.conflictPath!,
        origin: cmd.origin,
        size: put.size,
        hash: put.hash,
      };
    }
    if (r.action === "delete" || r.action === "rmdir") {
      return { type: "delete", op: r.action, index, applyMs, path: r.path, origin: cmd.origin };
    }
    const e: FsmEvent = { type: "skip", index, applyMs, path: r.path, origin: cmd.origin, reason: r.action };
    if (r.detail) e.detail = r.detail;
    return e;
  }

  // --------------------------------------------------------------------------------------------- restore

  private async restoreNow(meta: SnapshotMeta, data: AsyncIterable<Uint8Array>): Promise<void> {
    const t0 = this.now();
    this.placedStats.clear(); // the index is rewritten wholesale below
    const { entries } = await readSnapshot(data, this.d.chunks);
    const txn = new EntryTxn(this.d.index); // reads the OLD index: what this node last materialised
    const next = new Map(entries.map((e) => [e.path, e]));
    const live = (p: string) => liveEntry(next.get(p));
    const stats = new Map<string, LocalStat | null>();
    let written = 0;
    let removed = 0;

    // 1. Files on disk that the snapshot does not have: remove ours, keep or save the user's.
    const onDisk = await walk(this.mat);
    for (const [p, st] of onDisk) {
      if (st.kind !== "file") continue;
      const ne = live(p);
      if (ne && ne.kind === "file") continue; // handled in step 2
      const old = txn.get(p);
      const ours = old && !old.deleted && old.kind === "file";
      const h = await this.contentHash(p, st, old, txn);
      if (ours && h === old.hash) {
        await this.mat.removeFile(p);
        removed++;
      } else if (ours || ne) {
        await this.moveAside(p, st, txn); // an edit of a file the cluster dropped, or in a dir's way
      }
      // else: a file nobody has seen yet; it stays and the scanner proposes it.
    }
    // 2. Every live directory and file of the snapshot.
    const sorted = entries.filter((e) => !e.deleted).sort((a, b) => cmp(a.path, b.path));
    for (const e of sorted) {
      if (e.kind === "dir") {
        await this.guardDisk(async () => {
          await this.prepareDir(e.path, e.mode, e.origin, txn);
          await this.mat.chmodDir(e.path, e.mode);
          return { stat: null, wrote: false };
        });
        continue;
      }
      const old = txn.get(e.path);
      const placed = await this.guardDisk(() =>
        // What this node last materialised there may be replaced; anything else is a local edit.
        this.placeVersion(e, txn, {
          hashOnDisk: (disk) => this.contentHash(e.path, disk, old, txn),
          replaceable: async (_disk, h) => !!old && !old.deleted && old.kind === "file" && h === old.hash,
        }),
      );
      if (placed.wrote) written++;
      stats.set(e.path, placed.stat);
    }
    // 3. Directories we made that the snapshot no longer has, deepest first; untracked content keeps them.
    const dirs = [...onDisk].filter(([p, st]) => st.kind === "dir" && !live(p)).map(([p]) => p);
    for (const p of dirs.sort((a, b) => b.length - a.length || cmp(a, b))) {
      const old = txn.get(p);
      if (old && !old.deleted && old.kind === "dir" && (await this.mat.removeDirIfEmpty(p))) removed++;
    }
    // 4. The index, in one transaction, once the folder is durable.
    await Promise.all([this.mat.syncAll(), this.d.chunks.sync()]);
    const { index } = this.d;
    index.transaction(() => {
      index.clear();
      for (const e of entries) index.put(e);
      for (const [p, s] of stats) index.setLocalStat(p, s);
      index.setMeta(APPLIED_INDEX_KEY, String(meta.index));
      index.setMeta(DURABLE_INDEX_KEY, String(meta.index));
      index.setMeta(DURABLE_BOOT_KEY, this.bootId);
    });
    this.applied = meta.index;
    this.durable = meta.index;
    this.suspectAfter = null;
    this.emit({
      type: "restore",
      index: meta.index,
      applyMs: this.now() - t0,
      files: sorted.filter((e) => e.kind === "file").length,
      written,
      removed,
    });
  }
}

// --------------------------------------------------------------------------------------------- helpers

function readApplied(index: FileIndex): number {
  return readIndexMeta(index, APPLIED_INDEX_KEY);
}

/** The paths recorded under IN_PLACE_PATCHES_KEY (none when the value is missing or unreadable). */
function readPatchMarker(index: FileIndex): string[] {
  try {
    const v = JSON.parse(index.getMeta(IN_PLACE_PATCHES_KEY) ?? "[]");
    return Array.isArray(v) ? v.filter((p): p is string => typeof p === "string") : [];
  } catch {
    return [];
  }
}

function readIndexMeta(index: FileIndex, key: string): number {
  const v = Number(index.getMeta(key) ?? 0);
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
}

/** Linux's per-boot id; elsewhere the boot time (to the minute) stands in for it. */
function currentBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return `boot-${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
}

function version(e: IndexEntry): Version {
  return { hash: e.hash, clock: e.clock, deleted: e.deleted, origin: e.origin };
}

/** The proposer saw `current` (or something newer) when it made the change. */
function basedOn(base: VectorClock, current: VectorClock): boolean {
  const o = compareClocks(base, current);
  return o === "equal" || o === "after";
}

function rejected(p: string, detail: string): LeafResult {
  return { applied: false, action: "rejected", path: p, detail };
}

/** The nearest ancestor that is a live file in the index (a file cannot contain anything). */
function fileAncestor(p: string, txn: EntryTxn): string | null {
  const segs = p.split("/");
  for (let i = 1; i < segs.length; i++) {
    const a = segs.slice(0, i).join("/");
    const e = txn.get(a);
    if (e && !e.deleted && e.kind === "file") return a;
  }
  return null;
}

function dirEntry(p: string, mode: number, clock: VectorClock, origin: string, idx: number): IndexEntry {
  return {
    path: p,
    kind: "dir",
    hash: "",
    size: 0,
    mode,
    mtimeMs: 0,
    chunks: [],
    clock,
    deleted: false,
    origin,
    updatedIndex: idx,
  };
}

export function localStat(st: DiskStat): LocalStat {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

export function sameStat(a: LocalStat, b: { size: number; mtimeMs: number; ino: number }): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

export async function hashStream(data: AsyncIterable<Uint8Array>): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const piece of data) h.update(piece);
  return h.digest("hex");
}

/** Every entry of the folder except .pickbox, without following symlinks. */
export async function walk(mat: Materializer): Promise<Map<string, DiskStat>> {
  const out = new Map<string, DiskStat>();
  const visit = async (rel: string) => {
    const abs = rel ? `${mat.root}/${rel}` : mat.root;
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return;
      throw e;
    }
    for (const name of names.sort()) {
      if (!rel && name.toLowerCase() === ".pickbox") continue;
      const p = rel ? `${rel}/${name}` : name;
      const st = await mat.stat(p).catch((e) => {
        if (e instanceof PathError) return null;
        throw e;
      });
      if (!st) continue;
      out.set(p, st);
      if (st.kind === "dir") await visit(p);
    }
  };
  await visit("");
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
