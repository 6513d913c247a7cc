import { readFileSync } from "node:fs";
import { join } from "node:path";
import ignore, { type Ignore } from "ignore";

/** Name of the node-state folder; never replicated, never overridable by user rules. */
export const NODE_STATE_DIR = ".pickbox";
/** The user's ignore file at the folder root (gitignore syntax). It replicates like any file. */
export const IGNORE_FILE = ".pickboxignore";

/**
 * Editor temp, swap and partial-download files. They come first in the same rule set as the user's
 * `.pickboxignore`, so a user rule like `!keep.tmp` can re-include one (gitignore semantics).
 */
export const DEFAULT_IGNORE_PATTERNS: readonly string[] = [
  "*.swp",
  "*.swx",
  "*~",
  ".#*",
  "\\#*#", // a leading "#" would be a comment in gitignore syntax
  "4913",
  ".DS_Store",
  "*.tmp",
  ".~lock.*#",
  "*.crdownload",
  "*.part",
  ".goutputstream-*",
];

const MEMO_LIMIT = 100_000;

/**
 * Decides which root-relative posix paths the watcher and the walker skip: `.pickbox` (hard rule, any
 * depth), the editor defaults above, and the root `.pickboxignore` (gitignore syntax, `!` negation).
 */
export class IgnoreRules {
  private readonly ignoreFilePath: string;
  private userText: string | undefined;
  private rules: Ignore;
  /** Answers so far, keyed by path with a trailing "/" for a directory. */
  private readonly memo = new Map<string, boolean>();

  constructor(readonly root: string) {
    this.ignoreFilePath = join(root, IGNORE_FILE);
    this.userText = readUserRules(this.ignoreFilePath);
    this.rules = buildRules(this.userText);
  }

  /** True when `relPath` (posix, relative to root, no leading `./`) must not be watched or reported. */
  ignores(relPath: string, isDir: boolean): boolean {
    const key = isDir ? `${relPath}/` : relPath;
    let hit = this.memo.get(key);
    if (hit === undefined) {
      hit = this.decide(relPath, key);
      // chokidar asks again for every entry each time it re-reads a directory; bounded, not an LRU.
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(key, hit);
    }
    return hit;
  }

  private decide(relPath: string, key: string): boolean {
    if (relPath === "" || !ignore.isPathValid(relPath)) return false;
    if (relPath.split("/").includes(NODE_STATE_DIR)) return true;
    return this.rules.ignores(key);
  }

  /** True when the path is ignored whether it is a file or a directory (usable before a stat). */
  ignoresEitherWay(relPath: string): boolean {
    return this.ignores(relPath, false) && this.ignores(relPath, true);
  }

  /** Re-reads `.pickboxignore`. Returns whether the rules changed. */
  reload(): boolean {
    const text = readUserRules(this.ignoreFilePath);
    if (text === this.userText) return false;
    this.userText = text;
    this.rules = buildRules(text);
    this.memo.clear();
    return true;
  }
}

function buildRules(userText: string | undefined): Ignore {
  const rules = ignore().add([...DEFAULT_IGNORE_PATTERNS]);
  if (userText !== undefined) rules.add(userText);
  return rules;
}

function readUserRules(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    // Missing or unreadable (or a directory): no user rules. The defaults still apply.
    return undefined;
  }
}
