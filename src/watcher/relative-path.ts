import { isAbsolute, relative, sep } from "node:path";

/**
 * Root-relative posix form of an absolute path: "" for the root itself, undefined for anything outside it.
 */
export function toRelativePosix(root: string, abs: string): string | undefined {
  const rel = relative(root, abs);
  if (rel === "") return "";
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return sep === "/" ? rel : rel.split(sep).join("/");
}

/** Joins a root-relative posix directory and a child name. */
export function joinRelative(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

/** True when `path` equals `dir` or lies below it (both root-relative posix). */
export function isSameOrBelow(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}
