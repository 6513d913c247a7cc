// Files assembled from pushed chunks before their entry commits. The origin of a large file pushes its
// chunks to every peer ahead of the proposal and says where in the file each one goes; a peer writes
// them into a temp file as they arrive (besides storing them), so when the entry commits its apply is
// little more than a rename instead of reading every chunk back and writing the whole file then.
//
// Staging is only ever a shortcut: the apply claims a stage only if every chunk written there is the one
// its command names at that offset, writes whatever is missing from the chunk store, and without a
// usable stage writes the file as always. A failed stage write (a full disk, say) drops the stage and
// never fails the push. Stages nobody claims are deleted after STAGE_TTL_MS; all of them at startup.
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, rmSync, unlinkSync } from "node:fs";
import path from "node:path";
import { writeFully } from "./direct-io.ts";
import { DirectRunWriter } from "./direct-run-writer.ts";

/** What a push says about the chunks of one request that belong to a staged file. */
export interface StageTarget {
  /** The origin's name for one scan of one file (a rescan is a new stage). */
  id: string;
  path: string;
  size: number;
}

/** A chunk of a command's layout: its hash at an offset. */
export interface PlacedChunk {
  offset: number;
  hash: string;
}

/** A stage handed to an apply: the temp file (now the caller's to rename or delete) and what it lacks. */
export interface ClaimedStage {
  tmp: string;
  missing: PlacedChunk[];
}

/** Files from this size on are staged by their peers while they are pushed (smaller ones gain little). */
export const STAGE_MIN_BYTES = 4 * 1024 * 1024;
/** Raw descriptors, not FileHandles: a stage dropped at shutdown must not become a garbage-collection
 * error. */
interface StageFiles {
  buffered: number;
  /** Direct I/O for the stream of pushed chunks, where the file system has it. */
  direct: number | null;
  writer: DirectRunWriter | null;
}

/** Unclaimed stages are deleted after this long without a write. */
export const STAGE_TTL_MS = 120_000;
/** Largest file staged (and so the largest size a peer can make this node allocate for one stage). */
const MAX_STAGE_BYTES = 2 ** 40;
/** Bytes of one stage queued for writing before a writer has to wait. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** Stages at once; a further one is refused (the apply then writes its file as usual). */
const MAX_STAGES = 64;

interface Stage {
  target: StageTarget;
  tmp: string;
  /** Open from the stage's first write until it is claimed or dropped. */
  files: StageFiles | null;
  /** offset → hash of every chunk written there. */
  written: Map<number, string>;
  /** The last write queued (writes of one stage are serialised), the ones still to finish, and their bytes. */
  tail: Promise<void>;
  pending: Promise<void>[];
  queued: number;
  failed: boolean;
  touchedAt: number;
}

export class PushStaging {
  private readonly dir: string;
  private readonly stages = new Map<string, Stage>();
  private seq = 0;
  /** Files of dropped stages, deleted once their queued writes are done. */
  private readonly dropping = new Set<Promise<void>>();

  constructor(
    /** The node's temp directory (.pickbox/tmp); stages live in its `push` folder. */
    tmpRoot: string,
    private readonly now: () => number = Date.now,
  ) {
    this.dir = path.join(tmpRoot, "push");
    rmSync(this.dir, { recursive: true, force: true }); // a previous process's stages are of no use
  }

  /** Stages in progress (for tests and status). */
  get size(): number {
    return this.stages.size;
  }

  /** Whether some stage is for `filePath` at `size` (cheap: there are few stages at a time). */
  holds(filePath: string, size: number): boolean {
    for (const s of this.stages.values())
      if (s.target.path === filePath && s.target.size === size) return true;
    return false;
  }

  /**
   * Writes pushed chunks into the stage `target` names, each at its offset (offsets[i] for chunks[i];
   * null for a chunk of no staged file). The writes run behind the caller, who waits only while more than
   * MAX_QUEUED_BYTES of a stage are still to be written (a disk busy for a moment does not hold up the
   * push; memory stays bounded). Never rejects.
   */
  async write(
    target: StageTarget,
    chunks: { data: Uint8Array; hash: string }[],
    offsets: (number | null)[],
  ): Promise<void> {
    if (!validTarget(target)) return;
    const stage = this.stageFor(target);
    if (!stage) return;
    const run = stage.tail.then(async () => {
      if (stage.failed) return;
      stage.files ??= openStage(stage.tmp);
      const files = stage.files;
      for (let i = 0; i < chunks.length; i++) {
        const at = offsets[i];
        const c = chunks[i]!;
        if (!fits(at, c.data.length, target.size)) continue;
        if (files.writer) await files.writer.write(at, c.data);
        else await writeFully(files.buffered, c.data, at);
        stage.written.set(at, c.hash);
      }
    });
    const bytes = chunks.reduce((n, c) => n + c.data.length, 0);
    stage.queued += bytes;
    stage.tail = run
      .catch(() => {
        stage.failed = true; // e.g. the disk is full: this stage is useless now
        this.drop(target.id);
      })
      .finally(() => {
        stage.queued -= bytes;
        stage.pending.shift(); // (writes of a stage finish in order)
      });
    stage.pending.push(stage.tail);
    stage.touchedAt = this.now();
    while (stage.queued > MAX_QUEUED_BYTES && stage.pending.length > 0) await stage.pending[0];
  }

  /**
   * The stage of `filePath` at `size` whose written chunks all sit where `layout` (the committed
   * command's chunks) puts them, the one with the most of them; null when there is none. The claimed
   * temp file becomes the caller's; `missing` lists the chunks of the layout it does not hold yet.
   */
  async claim(filePath: string, size: number, layout: PlacedChunk[]): Promise<ClaimedStage | null> {
    const candidates = [...this.stages.values()].filter(
      (s) => s.target.path === filePath && s.target.size === size,
    );
    if (candidates.length === 0) return null;
    await Promise.all(candidates.map((s) => s.tail));
    const want = new Map(layout.map((c) => [c.offset, c.hash]));
    let best: Stage | null = null;
    for (const s of candidates) {
      if (s.failed || !this.stages.has(s.target.id)) continue;
      let fits = true;
      for (const [off, h] of s.written) {
        if (want.get(off) !== h) {
          fits = false;
          break;
        }
      }
      if (fits && (!best || s.written.size > best.written.size)) best = s;
    }
    if (!best) return null;
    this.stages.delete(best.target.id);
    const written = best.written;
    try {
      await closeStage(best, size);
    } catch {
      unlinkQuietly(best.tmp);
      return null;
    }
    return { tmp: best.tmp, missing: layout.filter((c) => written.get(c.offset) !== c.hash) };
  }

  /** Deletes stages nobody wrote to for STAGE_TTL_MS. */
  sweep(): void {
    const cutoff = this.now() - STAGE_TTL_MS;
    for (const [id, s] of this.stages) if (s.touchedAt < cutoff) this.drop(id);
  }

  /** Deletes every stage (shutdown). */
  close(): void {
    for (const id of [...this.stages.keys()]) this.drop(id);
  }

  /** Resolves once every write queued so far is done and every dropped stage's file deleted. */
  async settled(): Promise<void> {
    await Promise.all([...this.stages.values()].map((s) => s.tail));
    await Promise.all([...this.dropping]);
  }

  private stageFor(target: StageTarget): Stage | null {
    const known = this.stages.get(target.id);
    if (known) return known.target.path === target.path && known.target.size === target.size ? known : null;
    this.sweep();
    if (this.stages.size >= MAX_STAGES) return null;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.dir, `s-${process.pid}-${++this.seq}`);
    try {
      const fd = openSync(tmp, "w", 0o600);
      try {
        ftruncateSync(fd, target.size); // sparse: blocks are taken as chunks arrive
      } finally {
        closeSync(fd);
      }
    } catch {
      unlinkQuietly(tmp);
      return null;
    }
    const stage: Stage = {
      target: { id: target.id, path: target.path, size: target.size },
      tmp,
      files: null,
      written: new Map(),
      tail: Promise.resolve(),
      pending: [],
      queued: 0,
      failed: false,
      touchedAt: this.now(),
    };
    this.stages.set(target.id, stage);
    return stage;
  }

  private drop(id: string): void {
    const s = this.stages.get(id);
    if (!s) return;
    this.stages.delete(id);
    // Writes still queued finish (or fail quietly) first.
    const gone = s.tail
      .then(() => closeStage(s, null))
      .catch(() => {})
      .finally(() => {
        unlinkQuietly(s.tmp);
        this.dropping.delete(gone);
      });
    this.dropping.add(gone);
  }
}

function openStage(tmp: string): StageFiles {
  const buffered = openSync(tmp, constants.O_RDWR);
  let direct: number | null = null;
  if (constants.O_DIRECT) {
    try {
      direct = openSync(tmp, constants.O_RDWR | constants.O_DIRECT);
    } catch (e) {
      if ((e as { code?: string }).code !== "EINVAL") {
        closeSync(buffered);
        throw e;
      }
    }
  }
  return { buffered, direct, writer: direct !== null ? new DirectRunWriter(direct, buffered) : null };
}

/** Puts what the stage's writer still buffers into the file, cuts it to `size` (when given: the direct
 * writes pad their last block) and closes it. */
async function closeStage(s: Stage, size: number | null): Promise<void> {
  const f = s.files;
  if (!f) return;
  s.files = null;
  try {
    if (size !== null) {
      await f.writer?.flush();
      ftruncateSync(f.buffered, size);
    }
  } finally {
    if (f.direct !== null) closeSync(f.direct);
    closeSync(f.buffered);
  }
}

function fits(at: number | null | undefined, len: number, size: number): at is number {
  return typeof at === "number" && Number.isSafeInteger(at) && at >= 0 && at + len <= size;
}

function validTarget(t: StageTarget): boolean {
  return (
    typeof t === "object" &&
    t !== null &&
    typeof t.id === "string" &&
    t.id.length > 0 &&
    t.id.length <= 200 &&
    typeof t.path === "string" &&
    t.path.length > 0 &&
    Number.isSafeInteger(t.size) &&
    t.size > 0 &&
    t.size <= MAX_STAGE_BYTES
  );
}

function unlinkQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {}
}
