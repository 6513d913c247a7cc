import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IgnoreRules } from "../../src/watcher/ignore-rules.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pickbox-ignore-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const USER_RULES = ["node_modules/", "*.log", "!keep.log", "/build", "!important.tmp", "!.pickbox/", ""].join(
  "\n",
);

// [path, isDir, ignored]
const TABLE: [string, boolean, boolean][] = [
  [".pickbox", true, true],
  [".pickbox/x", false, true],
  [".pickbox/chunks/ab/abcd", false, true],
  ["sub/.pickbox/x", false, true],
  ["a.swp", false, true],
  ["dir/.a.txt.swp", false, true],
  [".a.txt.swx", false, true],
  ["notes.txt~", false, true],
  [".#notes.txt", false, true],
  ["#notes.txt#", false, true],
  ["4913", false, true],
  ["sub/4913", false, true],
  [".DS_Store", false, true],
  ["x.tmp", false, true],
  [".~lock.report.odt#", false, true],
  ["movie.mkv.crdownload", false, true],
  ["iso.part", false, true],
  [".goutputstream-ABC123", false, true],
  ["a.txt", false, false],
  [".pickboxignore", false, false],
  ["node_modules", true, true],
  ["node_modules/left-pad/index.js", false, true],
  ["pkg/node_modules", true, true],
  ["node_modules", false, false], // dir-only rule: a file of that name is kept
  ["debug.log", false, true],
  ["keep.log", false, false], // negation
  ["sub/keep.log", false, false],
  ["build", true, true],
  ["build/out.js", false, true],
  ["sub/build", true, false], // anchored to the root
  ["important.tmp", false, false], // a user negation re-includes a default
];

describe("IgnoreRules", () => {
  test.each(TABLE)("%p (dir=%p) ignored=%p", (path, isDir, expected) => {
    writeFileSync(join(root, ".pickboxignore"), USER_RULES);
    const rules = new IgnoreRules(root);
    expect(rules.ignores(path, isDir)).toBe(expected);
  });

  test("without a .pickboxignore only the built-in rules apply", () => {
    const rules = new IgnoreRules(root);
    expect(rules.ignores("node_modules/x.js", false)).toBe(false);
    expect(rules.ignores("a.swp", false)).toBe(true);
    expect(rules.ignores(".pickbox/state.db", false)).toBe(true);
  });

  test("reload picks up edits and reports whether the rules changed", () => {
    const rules = new IgnoreRules(root);
    expect(rules.ignores("secret.env", false)).toBe(false);
    expect(rules.reload()).toBe(false);
    writeFileSync(join(root, ".pickboxignore"), "*.env\n");
    expect(rules.reload()).toBe(true);
    expect(rules.ignores("secret.env", false)).toBe(true);
    rmSync(join(root, ".pickboxignore"));
    expect(rules.reload()).toBe(true);
    expect(rules.ignores("secret.env", false)).toBe(false);
  });

  test("the root itself and malformed paths are never ignored (and never throw)", () => {
    const rules = new IgnoreRules(root);
    expect(rules.ignores("", true)).toBe(false);
    expect(rules.ignores("../outside", false)).toBe(false);
    expect(rules.ignores("./a.swp", false)).toBe(false);
  });

  test("ignoresEitherWay is true only when the type does not matter", () => {
    writeFileSync(join(root, ".pickboxignore"), "node_modules/\n*.log\n");
    const rules = new IgnoreRules(root);
    expect(rules.ignoresEitherWay("node_modules")).toBe(false);
    expect(rules.ignoresEitherWay("node_modules/a.js")).toBe(true);
    expect(rules.ignoresEitherWay("x.log")).toBe(true);
  });
});
