import type { Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { IgnoreRules } from "./ignore-rules.ts";

export interface WalkEntry {
  /** posix, relative to root */
  path: string;
  isDir: boolean;
  size: number;
  mtimeMs: number;
  ino: number;
  /** full st_mode from lstat: a symlink shows up as S_IFLNK (it is listed, never followed) */
  mode: number;
}

export interface WalkOptions {
  /** Walk only this root-relative subtree (the directory itself is not yielded). Default: the whole root. */
  under?: string;
  /** Stops the walk between directories / stat batches. */
  signal?: AbortSignal;
}

/** How many lstat calls run at once inside one directory. */
const STAT_CONCURRENCY = 64;

/**
 * Lists every live path under root (files, directories, symlinks; symlinks are not followed), skipping
 * ignored paths and never descending into ignored directories. Parents are yielded before children.
 *
 * Failure policy, chosen so a consumer never mistakes a failed walk for "everything was deleted":
 * a missing root (or missing `under`) throws; a directory that vanishes mid-walk is skipped (its contents
 * really are gone); any other read error (EACCES, EMFILE, ...) throws instead of yielding a partial list.
 */
export async function* walkFolder(
  root: string,
  ignore: IgnoreRules,
  options: WalkOptions = {},
): AsyncGenerator<WalkEntry> {
  const start = options.under ?? "";
  const pending: string[] = [start];
  let first = true;
  while (pending.length > 0) {
    if (options.signal?.aborted) return;
    const dirRel = pending.pop()!;
    const names = await readDirNames(join(root, dirRel), first);
    first = false;
    if (names === undefined) continue;
    const candidates = names
      .map((name) => (dirRel === "" ? name : `${dirRel}/${name}`))
      .filter((rel) => !ignore.ignoresEitherWay(rel));
    for (let i = 0; i < candidates.length; i += STAT_CONCURRENCY) {
      if (options.signal?.aborted) return;
      const batch = candidates.slice(i, i + STAT_CONCURRENCY);
      const stats = await Promise.all(batch.map((rel) => lstatOrUndefined(join(root, rel))));
      for (let j = 0; j < batch.length; j++) {
        const st = stats[j];
        const rel = batch[j]!;
        if (st === undefined) continue;
        if (options.signal?.aborted) return;
        const isDir = st.isDirectory();
        if (ignore.ignores(rel, isDir)) continue;
        if (isDir) pending.push(rel);
        yield { path: rel, isDir, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, mode: st.mode };
      }
    }
  }
}

async function readDirNames(abs: string, isStart: boolean): Promise<string[] | undefined> {
  try {
    return await readdir(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!isStart && (code === "ENOENT" || code === "ENOTDIR")) return undefined;
    throw err;
  }
}

async function lstatOrUndefined(abs: string): Promise<Stats | undefined> {
  try {
    return await lstat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}
