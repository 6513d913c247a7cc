// Turns index decisions into files: atomic writes (temp file in .pickbox/tmp, fsync, chmod, utimes, rename,
// fsync of the directory), deletes and directories, always confined to the folder. Knows nothing of
// clocks or the log; the FSM decides, this writes.
import { constants } from "node:fs";
import { chmod, link, lstat, mkdir, open, rename, rm, rmdir, unlink, utimes } from "node:fs/promises";
import path from "node:path";
import { normalizeRelPath, resolveInside, STATE_DIR_NAME } from "./paths.ts";

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
  /** Directories whose entries changed since the last syncDirs(): fsynced once per batch, not per file. */
  private readonly dirtyDirs = new Set<string>();
  readonly tmpDir: string;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, TMP_DIR);
  }

  /** Absolute path of `rel`, refusing anything that would leave the folder (PathError). */
  resolve(rel: string): Promise<string> {
    return resolveInside(this.root, rel);
  }

  /** lstat without following a symlink; null when nothing is there. */
  async stat(rel: string): Promise<DiskStat | null> {
    const abs = await this.resolve(rel);
    return statAbs(abs);
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
   * Writes bytes to a durable temp file (fsynced, with mode and mtime) without placing it anywhere.
   * Staging does not depend on any decision, so a batch's files can be staged in parallel and their
   * fsyncs overlap; placeStaged then renames them in log order. discardStaged removes unused ones.
   */
  async stage(data: AsyncIterable<Uint8Array>, mode: number, mtimeMs: number): Promise<string> {
    if (!this.tmpReady) {
      await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
      this.tmpReady = true;
    }
    const tmp = path.join(this.tmpDir, `w-${process.pid}-${++this.tmpSeq}`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
    const fh = await open(tmp, flags, 0o600).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
      await mkdir(this.tmpDir, { recursive: true, mode: 0o700 }); // someone removed it meanwhile
      return open(tmp, flags, 0o600);
    });
    try {
      for await (const piece of data) {
        let off = 0;
        while (off < piece.length) {
          const { bytesWritten } = await fh.write(piece, off, piece.length - off);
          off += bytesWritten;
        }
      }
      await fh.chmod(mode & 0o7777);
      await fh.utimes(mtimeMs / 1000, mtimeMs / 1000);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    return tmp;
  }

  /** Atomically puts a staged temp file at `rel` (the caller has checked whatever stood there). */
  async placeStaged(rel: string, tmp: string): Promise<DiskStat | null> {
    let abs: string;
    try {
      abs = await this.resolve(rel);
      await rename(tmp, abs);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    this.dirChanged(path.dirname(abs));
    const st = await statAbs(abs);
    // Null when someone removed (or replaced) the file in the instant after the rename: that is the
    // user's newer state, which the scanner will propose; it is no reason to fail the apply.
    return st?.kind === "file" ? st : null;
  }

  async discardStaged(tmp: string): Promise<void> {
    await unlink(tmp).catch(() => {});
  }

  /** Sets mode and mtime of an existing file whose bytes are already right. */
  async touch(rel: string, mode: number, mtimeMs: number): Promise<DiskStat> {
    const abs = await this.resolve(rel);
    await chmod(abs, mode & 0o7777);
    await utimes(abs, mtimeMs / 1000, mtimeMs / 1000);
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
      const abs = await this.resolve(sub);
      const st = await statAbs(abs);
      if (st?.kind === "dir") continue;
      if (st?.kind === "symlink") {
        // resolveInside accepted it, so it points inside the folder; treat a link to a dir as a dir.
        continue;
      }
      if (st) throw new Error(`cannot create directory ${sub}: something else is in the way`);
      await mkdir(abs, { mode });
      await chmod(abs, mode & 0o7777); // mkdir's mode is filtered by umask
      this.dirChanged(path.dirname(abs));
      created.push(sub);
    }
    return created;
  }

  async chmodDir(rel: string, mode: number): Promise<void> {
    await chmod(await this.resolve(rel), mode & 0o7777);
  }

  /**
   * Keeps the inode currently at `rel` reachable under .pickbox/tmp (a hard link; the path itself is
   * untouched) before it is replaced or deleted. A writer that opened the file just before the swap
   * writes into that inode; the caller inspects it afterwards and rescues such writes. Null when
   * nothing is there.
   */
  async holdOld(rel: string): Promise<string | null> {
    const abs = await this.resolve(rel);
    if (!this.tmpReady) {
      await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
      this.tmpReady = true;
    }
    const held = path.join(this.tmpDir, `old-${process.pid}-${++this.tmpSeq}`);
    try {
      await link(abs, held);
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
    const abs = await this.resolve(rel);
    if (await statAbs(abs)) throw new Error(`cannot restore to ${rel}: it exists`);
    await rename(held, abs);
    this.dirChanged(path.dirname(abs));
  }

  async dropHeld(held: string): Promise<void> {
    await unlink(held).catch(() => {});
  }

  /** Removes a file (missing is fine). */
  async removeFile(rel: string): Promise<void> {
    const abs = await this.resolve(rel);
    try {
      await unlink(abs);
    } catch (e) {
      if (code(e) === "ENOENT") return;
      throw e;
    }
    this.dirChanged(path.dirname(abs));
  }

  /** Removes an empty directory. Returns false (and leaves it) when it is not empty or not there. */
  async removeDirIfEmpty(rel: string): Promise<boolean> {
    const abs = await this.resolve(rel);
    try {
      await rmdir(abs);
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
    const a = await this.resolve(from);
    const b = await this.resolve(to);
    if (await statAbs(b)) throw new Error(`cannot move ${from} aside: ${to} exists`);
    await rename(a, b);
    this.dirChanged(path.dirname(b));
  }

  /** Reads a file's bytes in pieces (for hashing the local copy). */
  async *read(rel: string): AsyncGenerator<Uint8Array> {
    const abs = await this.resolve(rel);
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

  /** Makes every rename, unlink and mkdir since the last call durable. Call before recording them. */
  async syncDirs(): Promise<void> {
    const dirs = [...this.dirtyDirs];
    this.dirtyDirs.clear();
    for (const d of dirs) await fsyncDir(d);
  }

  private dirChanged(dir: string): void {
    this.dirtyDirs.add(dir);
  }

  /** Empties .pickbox/tmp of leftovers from a crash mid-write. */
  async cleanTmp(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}

export async function statAbs(abs: string): Promise<DiskStat | null> {
  try {
    const st = await lstat(abs);
    const kind = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other";
    return { kind, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, mode: st.mode & 0o7777 };
  } catch (e) {
    const c = code(e);
    if (c === "ENOENT" || c === "ENOTDIR") return null;
    throw e;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch (e) {
    // Some file systems refuse fsync on a directory (the rename is still atomic there); a directory
    // removed since its entries changed has nothing left to make durable.
    const c = code(e);
    if (c !== "EINVAL" && c !== "EISDIR" && c !== "EPERM" && c !== "ENOENT" && c !== "ENOTDIR") throw e;
  } finally {
    await fh?.close();
  }
}

function code(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}
