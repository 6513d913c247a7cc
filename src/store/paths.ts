// Path normalisation and confinement. Every path that enters a proposal goes through normalizeRelPath,
// so a hostile or malformed name is rejected with a clear message before it reaches the raft log;
// resolveInside is the last check before the file system is touched.
import { lstatSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import path from "node:path";

/** A path that must not be stored or materialised. The message says why. */
export class PathError extends Error {
  override name = "PathError";
}

export const STATE_DIR_NAME = ".pickbox";
export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

const encoder = new TextEncoder();
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const DRIVE_PREFIX = /^[a-zA-Z]:/;

function byteLength(s: string): number {
  return encoder.encode(s).length;
}

/**
 * The canonical form of a relative path: posix separators, no "." or empty segments, no trailing slash.
 * Throws PathError for anything that could escape the folder or touch node state.
 */
export function normalizeRelPath(p: string): string {
  if (typeof p !== "string") throw new PathError("path must be a string");
  const shown = JSON.stringify(p);
  if (p.length === 0) throw new PathError("path is empty");
  if (CONTROL_CHARS.test(p)) throw new PathError(`path ${shown} contains NUL or control characters`);
  if (p.includes("\\")) throw new PathError(`path ${shown} contains a backslash; use "/" as separator`);
  if (p.startsWith("/")) throw new PathError(`path ${shown} is absolute; paths are relative to the folder`);
  if (DRIVE_PREFIX.test(p)) throw new PathError(`path ${shown} has a drive prefix; paths are relative`);
  const segments: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") throw new PathError(`path ${shown} contains a ".." segment`);
    if (byteLength(seg) > MAX_SEGMENT_BYTES) {
      throw new PathError(`path ${shown} has a name longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
    segments.push(seg);
  }
  if (segments.length === 0) throw new PathError(`path ${shown} names the folder itself, not a file`);
  // Case-insensitive: on a case-insensitive disk ".PICKBOX" is the state folder too.
  if (segments[0]!.toLowerCase() === STATE_DIR_NAME) {
    throw new PathError(`path ${shown} is inside ${STATE_DIR_NAME}/, which holds node state`);
  }
  const out = segments.join("/");
  if (byteLength(out) > MAX_PATH_BYTES)
    throw new PathError(`path ${shown} is longer than ${MAX_PATH_BYTES} bytes`);
  return out;
}

/** Whether `target` (absolute, already resolved) is `root` or below it. */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The absolute path of `rel` under `root`. Walks the existing components; a symlink whose real target lies
 * outside the root (or that dangles, so its target cannot be checked) is a PathError. Components that do
 * not exist yet are fine: they will be created as plain directories/files inside the root.
 */
export async function resolveInside(root: string, rel: string): Promise<string> {
  return resolveInsideSync(root, rel);
}

/**
 * resolveInside with synchronous lstat calls: a handful of microsecond syscalls, far cheaper than one
 * thread-pool round trip each (this runs for every file an apply touches).
 */
export function resolveInsideSync(root: string, rel: string): string {
  return resolveInsideStat(root, rel).abs;
}

/** resolveInsideSync's result with what its walk saw on the way (each lstat'ed once, not again). */
export interface ResolvedPath {
  abs: string;
  /** lstat of the path itself; null when it, or one of its ancestors, does not exist. */
  stat: Stats | null;
  /** lstat of its parent; null for a top-level path or a parent that does not exist. */
  parent: Stats | null;
  /** Path segments: 1 for a top-level path. */
  depth: number;
}

export function resolveInsideStat(root: string, rel: string): ResolvedPath {
  const norm = normalizeRelPath(rel);
  const absRoot = path.resolve(root);
  // The root's real path is only needed to judge a symlink, which most paths never cross: resolving it
  // per call cost an open, a readlink and a close for every file an apply touched.
  let realRoot: string | undefined;
  const segments = norm.split("/");
  let current = absRoot;
  let stat: Stats | null = null;
  let parent: Stats | null = null;
  for (let i = 0; i < segments.length; i++) {
    current = path.join(current, segments[i]!);
    let st: Stats;
    try {
      st = lstatSync(current);
    } catch (e) {
      if (isMissing(e)) break; // nothing below a missing component exists either
      throw e;
    }
    if (i === segments.length - 1) stat = st;
    else if (i === segments.length - 2) parent = st;
    if (!st.isSymbolicLink()) continue;
    let real: string;
    try {
      real = realpathSync(current);
    } catch (e) {
      if (!isMissing(e)) throw e;
      let target = "?";
      try {
        target = readlinkSync(current);
      } catch {}
      throw new PathError(`path ${JSON.stringify(rel)} goes through a dangling symlink (-> ${target})`);
    }
    realRoot ??= realpathSync(absRoot);
    if (!isInside(realRoot, real)) {
      throw new PathError(
        `path ${JSON.stringify(rel)} goes through a symlink leading outside the folder (-> ${real})`,
      );
    }
  }
  return { abs: path.join(absRoot, norm), stat, parent, depth: segments.length };
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
