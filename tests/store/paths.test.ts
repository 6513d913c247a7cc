import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  isInside,
  normalizeRelPath,
  PathError,
  resolveInside,
  resolveInsideStat,
} from "../../src/store/paths.ts";

describe("normalizeRelPath", () => {
  const ok: Array<[string, string]> = [
    ["a/b.txt", "a/b.txt"],
    ["./a", "a"],
    ["a//b", "a/b"],
    ["a/./b/", "a/b"],
    ["./././x", "x"],
    ["a...b", "a...b"],
    ["..foo", "..foo"], // a name starting with dots is not a ".." segment
    ["foo..", "foo.."],
    [".bashrc", ".bashrc"],
    ["dir/.pickbox/x", "dir/.pickbox/x"], // only the top-level state folder is reserved
    [".pickboxes", ".pickboxes"],
    ["ünïcödé/日本.txt", "ünïcödé/日本.txt"],
    ["with space/and:colon", "with space/and:colon"],
  ];
  for (const [input, want] of ok) {
    test(`accepts ${JSON.stringify(input)} -> ${JSON.stringify(want)}`, () => {
      expect(normalizeRelPath(input)).toBe(want);
      expect(normalizeRelPath(want)).toBe(want); // idempotent
    });
  }

  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    [".", /folder itself/],
    ["./", /folder itself/],
    ["//", /absolute/],
    ["../../etc/passwd", /\.\./],
    ["/etc/passwd", /absolute/],
    ["a/../../x", /\.\./],
    ["a/..", /\.\./],
    ["..", /\.\./],
    ["C:\\x", /backslash|drive/],
    ["C:/x", /drive/],
    ["c:x", /drive/],
    [".pickbox/state.db", /\.pickbox/],
    [".pickbox", /\.pickbox/],
    ["./.pickbox/chunks/ab", /\.pickbox/],
    [".PickBox/state.db", /\.pickbox/],
    ["a\\b", /backslash/],
    ["a\0b", /control/],
    ["a\nb", /control/],
    ["a\tb", /control/],
    ["a\x7fb", /control/],
    ["x".repeat(256), /255/],
    ["é".repeat(128), /255/], // 256 bytes in UTF-8, 128 characters
    [Array.from({ length: 20 }, () => "y".repeat(250)).join("/"), /4096/],
  ];
  for (const [input, why] of bad) {
    test(`rejects ${JSON.stringify(input).slice(0, 40)}`, () => {
      let err: unknown;
      try {
        normalizeRelPath(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PathError);
      expect((err as Error).message).toMatch(why);
    });
  }

  test("limits are inclusive: 255-byte names and 4096-byte paths are accepted", () => {
    expect(normalizeRelPath("x".repeat(255))).toHaveLength(255);
    // 15 x 255 + 254 + "/q" + 16 separators = 4096 bytes
    const p = [...Array.from({ length: 15 }, () => "z".repeat(255)), "z".repeat(254)].join("/");
    expect(normalizeRelPath(p + "/q")).toHaveLength(4096);
    expect(() => normalizeRelPath(p + "/qq")).toThrow(PathError);
  });

  test("a non-string is a PathError, not a TypeError", () => {
    expect(() => normalizeRelPath(42 as unknown as string)).toThrow(PathError);
  });
});

describe("isInside", () => {
  test("prefix siblings are outside", () => {
    expect(isInside("/data/n1", "/data/n1")).toBe(true);
    expect(isInside("/data/n1", "/data/n1/a")).toBe(true);
    expect(isInside("/data/n1", "/data/n10/a")).toBe(false);
    expect(isInside("/data/n1", "/data")).toBe(false);
    expect(isInside("/data/n1", "/data/n1/..foo")).toBe(true);
  });
});

describe("resolveInside", () => {
  let base: string;
  let root: string;
  let outside: string;
  beforeAll(() => {
    base = realpathSync(mkdtempSync(path.join(tmpdir(), "pickbox-paths-")));
    root = path.join(base, "root");
    outside = path.join(base, "outside");
    mkdirSync(path.join(root, "real/sub"), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(outside, "secret"), "x");
    symlinkSync(outside, path.join(root, "escape"));
    symlinkSync(tmpdir(), path.join(root, "tmp"));
    symlinkSync(path.join(root, "real"), path.join(root, "inner"));
    symlinkSync("../outside/secret", path.join(root, "real/filelink"));
    symlinkSync(path.join(base, "does-not-exist"), path.join(root, "dangling"));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  test("plain and not-yet-existing paths resolve under the root", async () => {
    expect(await resolveInside(root, "real/sub/f.txt")).toBe(path.join(root, "real/sub/f.txt"));
    expect(await resolveInside(root, "new/dir/f.txt")).toBe(path.join(root, "new/dir/f.txt"));
    expect(await resolveInside(root, "./a//b")).toBe(path.join(root, "a/b"));
  });

  test("a symlink that stays inside the root is allowed", async () => {
    expect(await resolveInside(root, "inner/sub/x")).toBe(path.join(root, "inner/sub/x"));
  });

  const hostile = ["escape/secret", "escape/new-file", "tmp/x", "real/filelink", "dangling/x", "dangling"];
  for (const rel of hostile) {
    test(`rejects ${rel} (symlink out of the folder)`, async () => {
      await expect(resolveInside(root, rel)).rejects.toBeInstanceOf(PathError);
    });
  }

  test("lexically bad paths are rejected before touching the disk", async () => {
    await expect(resolveInside(root, "../outside/secret")).rejects.toBeInstanceOf(PathError);
    await expect(resolveInside(root, ".pickbox/state.db")).rejects.toBeInstanceOf(PathError);
  });

  test("resolveInsideStat hands over the lstat of the path and of its parent from its walk", () => {
    writeFileSync(path.join(root, "real/sub/f.txt"), "12345");
    const r = resolveInsideStat(root, "real/sub/f.txt");
    expect(r.abs).toBe(path.join(root, "real/sub/f.txt"));
    expect(r.stat?.isFile() && r.stat.size).toBe(5);
    expect(r.parent?.isDirectory()).toBe(true);
    // Not there yet: no stat; a missing parent has none either; a top-level path has no parent.
    expect(resolveInsideStat(root, "real/sub/nope")).toMatchObject({ stat: null });
    expect(resolveInsideStat(root, "real/new/x")).toMatchObject({ stat: null, parent: null });
    expect(resolveInsideStat(root, "./real")).toMatchObject({ parent: null, depth: 1 });
    expect(resolveInsideStat(root, "real//sub/").depth).toBe(2);
    // A file where a directory should be: nothing below it exists.
    expect(resolveInsideStat(root, "real/sub/f.txt/x")).toMatchObject({ stat: null });
    // A symlink is reported as itself (never followed), and one leading out is still refused.
    expect(resolveInsideStat(root, "inner").stat?.isSymbolicLink()).toBe(true);
    expect(resolveInsideStat(root, "inner/sub").parent?.isSymbolicLink()).toBe(true);
    expect(() => resolveInsideStat(root, "escape/secret")).toThrow(PathError);
  });

  test("a root given through a symlink still works", async () => {
    const alias = path.join(base, "alias");
    symlinkSync(root, alias);
    expect(await resolveInside(alias, "real/x")).toBe(path.join(alias, "real/x"));
    await expect(resolveInside(alias, "escape/secret")).rejects.toBeInstanceOf(PathError);
  });
});
