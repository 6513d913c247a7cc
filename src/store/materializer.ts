// Turns index decisions into files: atomic writes (temp file in .pickbox/tmp, chmod, utimes, rename),
// deletes and directories, always confined to the folder. Knows nothing of clocks or the log; the FSM
// decides, this writes.
//
// Durability is deferred: a write is atomic at once (temp file + rename) but reaches the disk at the next
// checkpoint (takeUnsynced + syncPaths), when every file and directory touched since the last one is
// fsynced together. Until then the committed raft log holds the bytes (see FileFSM.checkpoint).
// Metadata steps use synchronous syscalls: microseconds each, against a thread-pool round trip per
// async call, and this runs for every file of every batch.
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  futimesSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmdirSync,
  type Stats,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { copyFile, open, rm } from "node:fs/promises";
import path from "node:path";
import { readSmallFile } from "./chunker.ts";
import { writeFullySync } from "./direct-io.ts";
import { leasesAvailable, releaseLease, tryWriteLease } from "./file-lease.ts";
import { normalizeRelPath, resolveInsideStat, resolveInsideSync, STATE_DIR_NAME } from "./paths.ts";

export interface DiskStat {
  kind: "file" | "dir" | "symlink" | "other";
  size: number;
  mtimeMs: number;
  ino: number;
  mode: number;
}

export const TMP_DIR = `${STATE_DIR_NAME}/tmp`;

export class Materializer {
  private tmpSeq = 0;
  private tmpReady = false;
  /** Directories whose entries changed since the last takeUnsynced(). */
  private dirtyDirs = new Set<string>();
  /** Files written since the last takeUnsynced() (absolute paths where they were placed). */
  private dirtyFiles = new Set<string>();
  readonly tmpDir: string;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, TMP_DIR);
  }

  /** Absolute path of `rel`, refusing anything that would leave the folder (PathError). */
  resolve(rel: string): string {
    return resolveInsideSync(this.root, rel);
  }

  /** lstat without following a symlink; null when nothing is there. */
  async stat(rel: string): Promise<DiskStat | null> {
    return this.statWithParent(rel).stat;
  }

  /** stat(rel), and whether its parent is a directory (true for a top-level path), from one walk. */
  statWithParent(rel: string): { stat: DiskStat | null; parentIsDir: boolean } {
    const r = resolveInsideStat(this.root, rel);
    return {
      stat: r.stat ? diskStat(r.stat) : null,
      parentIsDir: r.depth === 1 || !!r.parent?.isDirectory(),
    };
  }

  /**
   * Atomically replaces `rel` with the given bytes (streamed, in order). Parent directories must already
   * exist (see ensureDir); whatever stood at `rel` must have been checked by the caller.
   */
  async writeFile(
    rel: string,
    data: AsyncIterable<Uint8Array>,
    mode: number,
    mtimeMs: number,
  ): Promise<DiskStat | null> {
    const tmp = await this.stage(data, mode, mtimeMs);
    return this.placeStaged(rel, tmp);
  }

  /**
   * Writes bytes to a temp file (with mode and mtime) without placing it anywhere. Staging does not
   * depend on any decision, so a batch's files are staged before the in-order apply loop, which then
   * only renames; discardStaged removes unused ones. Pieces are written as they arrive, so a large
   * file never sits in memory and the event loop runs between pieces.
   */
  async stage(data: AsyncIterable<Uint8Array>, mode: number, mtimeMs: number): Promise<string> {
    this.ensureTmpDir();
    const tmp = path.join(this.tmpDir, `w-${process.pid}-${++this.tmpSeq}`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
    let fd: number;
    try {
      fd = openSync(tmp, flags, 0o600);
    } catch (e) {
      if (code(e) !== "ENOENT") throw e;
      this.tmpReady = false; // someone removed it meanwhile
      this.ensureTmpDir();
      fd = openSync(tmp, flags, 0o600);
    }
    try {
      for await (const piece of data) {
        let off = 0;
        while (off < piece.length) off += writeSync(fd, piece, off, piece.length - off);
      }
      setModeAndTime(fd, mode, mtimeMs);
    } catch (e) {
      closeQuietly(fd);
      unlinkQuietly(tmp);
      throw e;
    }
    closeSync(fd);
    return tmp;
  }

  /**
   * Stages a new version of `rel` as an in-kernel copy of the file now there (which must still be the
   * `expected` inode, size and mtime, checked after the copy) with `changed` byte ranges overwritten and
   * the length set to `size`. Null (nothing staged) when the file moved during the copy.
   */
  async stagePatched(
    rel: string,
    expected: DiskStat,
    size: number,
    changed: { offset: number; hash: string }[],
    bytesOf: (hash: string) => Promise<Uint8Array>,
    mode: number,
    mtimeMs: number,
  ): Promise<string | null> {
    const abs = this.resolve(rel);
    this.ensureTmpDir();
    const tmp = path.join(this.tmpDir, `p-${process.pid}-${++this.tmpSeq}`);
    try {
      await copyFile(abs, tmp); // in the kernel (copy_file_range), off the event loop
      const now = statAbsSync(abs);
      if (
        now?.kind !== "file" ||
        now.ino !== expected.ino ||
        now.size !== expected.size ||
        now.mtimeMs !== expected.mtimeMs
      ) {
        unlinkQuietly(tmp);
        return null;
      }
      const fd = openSync(tmp, constants.O_WRONLY);
      try {
        for (const c of changed) writeFullySync(fd, await bytesOf(c.hash), c.offset);
        ftruncateSync(fd, size);
        setModeAndTime(fd, mode, mtimeMs);
      } finally {
        closeSync(fd);
      }
      return tmp;
    } catch (e) {
      unlinkQuietly(tmp);
      if (code(e) === "ENOENT") return null; // the file went away: the caller writes it whole
      throw e;
    }
  }

  /**
   * Finishes a temp file staged elsewhere (PushStaging): writes the `missing` pieces at their offsets and
   * sets mode and mtime. The caller then places it (placeStaged) or discards it.
   */
  async completeStaged(
    tmp: string,
    missing: AsyncIterable<{ offset: number; data: Uint8Array }>,
    mode: number,
    mtimeMs: number,
  ): Promise<void> {
    const fd = openSync(tmp, constants.O_WRONLY);
    try {
      for await (const c of missing) writeFullySync(fd, c.data, c.offset);
      setModeAndTime(fd, mode, mtimeMs);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Updates `rel` in place to a new version: the `changed` byte ranges written, the length set to `size`,
   * mode and mtime set; `beforeWrite` runs (synchronously) right before the first byte is written. Done
   * only under a write lease (file-lease.ts): nobody else has the file open, so no reader sees it half
   * updated (an open() meanwhile waits for the lease) and no writer's bytes mix
   * in; the file must still be the `expected` inode, size and mtime. Synchronous from lease to release.
   * Null, with nothing written, when any of that cannot be had: the caller stages a copy instead. Not
   * atomic against a crash: the caller records the patch in beforeWrite (see FileFSM.patchFile).
   */
  patchInPlace(
    rel: string,
    expected: DiskStat,
    size: number,
    changed: { offset: number; data: Uint8Array }[],
    mode: number,
    mtimeMs: number,
    beforeWrite: () => void,
  ): DiskStat | null {
    if (!leasesAvailable()) return null;
    const abs = this.resolve(rel);
    let fd: number;
    try {
      fd = openSync(abs, constants.O_RDWR | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    } catch (e) {
      const c = code(e);
      if (c === "ENOENT" || c === "ELOOP" || c === "EWOULDBLOCK" || c === "EAGAIN" || c === "EACCES")
        return null;
      throw e;
    }
    try {
      if (!tryWriteLease(fd)) return null;
      try {
        const st = fstatSync(fd);
        if (
          !st.isFile() ||
          st.ino !== expected.ino ||
          st.size !== expected.size ||
          st.mtimeMs !== expected.mtimeMs
        )
          return null;
        beforeWrite();
        for (const c of changed) writeFullySync(fd, c.data, c.offset);
        if (size !== expected.size) ftruncateSync(fd, size);
        setModeAndTime(fd, mode, mtimeMs);
      } finally {
        releaseLease(fd);
      }
    } finally {
      closeSync(fd);
    }
    this.dirtyFiles.add(abs);
    return statAbsSync(abs);
  }

  private ensureTmpDir(): void {
    if (this.tmpReady) return;
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    this.tmpReady = true;
  }

  /** Atomically puts a staged temp file at `rel` (the caller has checked whatever stood there). */
  async placeStaged(rel: string, tmp: string): Promise<DiskStat | null> {
    let abs: string;
    try {
      abs = this.resolve(rel);
      renameSync(tmp, abs);
    } catch (e) {
      unlinkQuietly(tmp);
      throw e;
    }
    this.dirChanged(path.dirname(abs));
    this.dirtyFiles.add(abs);
    const st = await statAbs(abs);
    // Null when someone removed (or replaced) the file in the instant after the rename: that is the
    // user's newer state, which the scanner will propose; it is no reason to fail the apply.
    return st?.kind === "file" ? st : null;
  }

  async discardStaged(tmp: string): Promise<void> {
    unlinkQuietly(tmp);
  }

  /** Sets mode and mtime of an existing file whose bytes are already right. */
  async touch(rel: string, mode: number, mtimeMs: number): Promise<DiskStat> {
    const abs = this.resolve(rel);
    chmodSync(abs, mode & 0o7777);
    utimesSync(abs, mtimeMs / 1000, mtimeMs / 1000);
    this.dirtyFiles.add(abs);
    const st = await statAbs(abs);
    if (!st) throw new Error(`file ${rel} vanished while its mode was set`);
    return st;
  }

  /** Creates `rel` and its missing ancestors as directories. Returns the relative paths it created. */
  async ensureDir(rel: string, mode = 0o755): Promise<string[]> {
    const segs = normalizeRelPath(rel).split("/");
    const created: string[] = [];
    for (let i = 1; i <= segs.length; i++) {
      const sub = segs.slice(0, i).join("/");
      const abs = this.resolve(sub);
      const st = await statAbs(abs);
      if (st?.kind === "dir") continue;
      if (st?.kind === "symlink") {
        // resolveInside accepted it, so it points inside the folder; treat a link to a dir as a dir.
        continue;
      }
      if (st) throw new Error(`cannot create directory ${sub}: something else is in the way`);
      mkdirSync(abs, { mode });
      chmodSync(abs, mode & 0o7777); // mkdir's mode is filtered by umask
      this.dirChanged(path.dirname(abs));
      created.push(sub);
    }
    return created;
  }

  async chmodDir(rel: string, mode: number): Promise<void> {
    chmodSync(this.resolve(rel), mode & 0o7777);
  }

  /**
   * Keeps the inode currently at `rel` reachable under .pickbox/tmp (a hard link; the path itself is
   * untouched) before it is replaced or deleted. A writer that opened the file just before the swap
   * writes into that inode; the caller inspects it afterwards and rescues such writes. Null when
   * nothing is there.
   */
  async holdOld(rel: string): Promise<string | null> {
    const abs = this.resolve(rel);
    this.ensureTmpDir();
    const held = path.join(this.tmpDir, `old-${process.pid}-${++this.tmpSeq}`);
    try {
      linkSync(abs, held);
      return held;
    } catch (e) {
      if (code(e) === "ENOENT") return null;
      throw e;
    }
  }

  async statHeld(held: string): Promise<DiskStat | null> {
    return statAbs(held);
  }

  /** Puts a held inode back into the folder at `rel` (which must not exist). */
  async restoreHeld(held: string, rel: string): Promise<void> {
    const abs = this.resolve(rel);
    if (await statAbs(abs)) throw new Error(`cannot restore to ${rel}: it exists`);
    renameSync(held, abs);
    this.dirChanged(path.dirname(abs));
  }

  async dropHeld(held: string): Promise<void> {
    unlinkQuietly(held);
  }

  /** Removes a file (missing is fine). */
  async removeFile(rel: string): Promise<void> {
    const abs = this.resolve(rel);
    try {
      unlinkSync(abs);
    } catch (e) {
      if (code(e) === "ENOENT") return;
      throw e;
    }
    this.dirChanged(path.dirname(abs));
  }

  /** Removes an empty directory. Returns false (and leaves it) when it is not empty or not there. */
  async removeDirIfEmpty(rel: string): Promise<boolean> {
    const abs = this.resolve(rel);
    try {
      rmdirSync(abs);
    } catch (e) {
      const c = code(e);
      if (c === "ENOENT" || c === "ENOTEMPTY" || c === "EEXIST" || c === "ENOTDIR") return false;
      throw e;
    }
    this.dirChanged(path.dirname(abs));
    return true;
  }

  /** Moves whatever is at `from` to `to` (both inside the folder); `to` must not exist. */
  async move(from: string, to: string): Promise<void> {
    const a = this.resolve(from);
    const b = this.resolve(to);
    if (await statAbs(b)) throw new Error(`cannot move ${from} aside: ${to} exists`);
    renameSync(a, b);
    this.dirChanged(path.dirname(b));
  }

  /** Reads a file's bytes in pieces (for hashing the local copy). */
  async *read(rel: string): AsyncGenerator<Uint8Array> {
    const abs = this.resolve(rel);
    const small = readSmallFile(abs, true);
    if (small) {
      yield small;
      return;
    }
    const fh = await open(abs, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      const buf = new Uint8Array(1 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) return;
        yield buf.slice(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * Every file written and directory changed since the last call (and forgets them): what the next
   * checkpoint must fsync. Taking them is instant, so it happens between two applies; syncing them
   * (syncPaths) then runs beside later applies.
   */
  takeUnsynced(): { files: string[]; dirs: string[] } {
    const out = { files: [...this.dirtyFiles], dirs: [...this.dirtyDirs] };
    this.dirtyFiles = new Set();
    this.dirtyDirs = new Set();
    return out;
  }

  /** Makes everything written and renamed so far durable, now (restore, tests, shutdown). */
  async syncAll(): Promise<void> {
    const { files, dirs } = this.takeUnsynced();
    await syncPaths(files, dirs);
  }

  private dirChanged(dir: string): void {
    this.dirtyDirs.add(dir);
  }

  /** Empties .pickbox/tmp of leftovers from a crash mid-write. */
  async cleanTmp(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}

function diskStat(st: Stats): DiskStat {
  const kind = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
  return { kind, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, mode: st.mode & 0o7777 };
}

export async function statAbs(abs: string): Promise<DiskStat | null> {
  return statAbsSync(abs);
}

export function statAbsSync(abs: string): DiskStat | null {
  try {
    return diskStat(lstatSync(abs));
  } catch (e) {
    const c = code(e);
    if (c === "ENOENT" || c === "ENOTDIR") return null;
    throw e;
  }
}

/** How many fsyncs a checkpoint keeps in flight (they overlap in the disk's queue and journal). */
const SYNC_CONCURRENCY = 16;

/**
 * fsyncs files, then directories (a rename is durable once its directory is), many at once. A path that
 * is gone or replaced since it was written has nothing left to make durable (its successor is synced by
 * the checkpoint that covers it).
 */
export async function syncPaths(files: string[], dirs: string[]): Promise<void> {
  const run = async (list: string[]) => {
    let next = 0;
    const worker = async () => {
      while (next < list.length) await fsyncPath(list[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(SYNC_CONCURRENCY, list.length) }, worker));
  };
  await run(files);
  await run(dirs);
}

async function fsyncPath(p: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(p, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    await fh.sync();
  } catch (e) {
    // Some file systems refuse fsync on a directory (the rename is still atomic there); a path removed
    // since it changed has nothing left to make durable.
    const c = code(e);
    if (
      c !== "EINVAL" &&
      c !== "EISDIR" &&
      c !== "EPERM" &&
      c !== "ENOENT" &&
      c !== "ENOTDIR" &&
      c !== "ELOOP"
    )
      throw e;
  } finally {
    await fh?.close();
  }
}

function setModeAndTime(fd: number, mode: number, mtimeMs: number): void {
  fchmodSync(fd, mode & 0o7777);
  futimesSync(fd, mtimeMs / 1000, mtimeMs / 1000);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {}
}

function unlinkQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {}
}

function code(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}
