import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IgnoreRules } from "../../src/watcher/ignore-rules.ts";
import { type WalkEntry, walkFolder } from "../../src/watcher/walk.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pickbox-walk-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

async function collect(gen: AsyncGenerator<WalkEntry>): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

describe("walkFolder", () => {
  test("lists files and directories with their stat data, skipping ignored paths", async () => {
    mkdirSync(join(root, "a/b"), { recursive: true });
    mkdirSync(join(root, ".pickbox/chunks"), { recursive: true });
    mkdirSync(join(root, "node_modules/x"), { recursive: true });
    writeFileSync(join(root, "a/b/c.txt"), "hello");
    writeFileSync(join(root, "top.txt"), "x");
    writeFileSync(join(root, ".pickbox/state.db"), "x");
    writeFileSync(join(root, "node_modules/x/i.js"), "x");
    writeFileSync(join(root, "a/.c.txt.swp"), "x");
    writeFileSync(join(root, ".pickboxignore"), "node_modules/\n");
    const entries = await collect(walkFolder(root, new IgnoreRules(root)));
    expect(entries.map((e) => e.path).sort()).toEqual([".pickboxignore", "a", "a/b", "a/b/c.txt", "top.txt"]);
    const c = entries.find((e) => e.path === "a/b/c.txt")!;
    expect(c.isDir).toBe(false);
    expect(c.size).toBe(5);
    expect(c.ino).toBeGreaterThan(0);
    expect(c.mtimeMs).toBeGreaterThan(0);
    expect(entries.find((e) => e.path === "a/b")!.isDir).toBe(true);
    // parents come before children
    const order = entries.map((e) => e.path);
    expect(order.indexOf("a")).toBeLessThan(order.indexOf("a/b"));
    expect(order.indexOf("a/b")).toBeLessThan(order.indexOf("a/b/c.txt"));
  });

  test("symlinks are listed as entries of their own and never followed", async () => {
    mkdirSync(join(root, "real"));
    writeFileSync(join(root, "real/f.txt"), "x");
    symlinkSync(join(root, "real"), join(root, "link"));
    const entries = await collect(walkFolder(root, new IgnoreRules(root)));
    expect(entries.map((e) => e.path).sort()).toEqual(["link", "real", "real/f.txt"]);
    const link = entries.find((e) => e.path === "link")!;
    expect(link.isDir).toBe(false);
    expect(link.mode & 0o170000).toBe(0o120000); // S_IFLNK
  });

  test("under restricts the walk to a subtree", async () => {
    mkdirSync(join(root, "a/b"), { recursive: true });
    writeFileSync(join(root, "a/b/c.txt"), "x");
    writeFileSync(join(root, "other.txt"), "x");
    const entries = await collect(walkFolder(root, new IgnoreRules(root), { under: "a" }));
    expect(entries.map((e) => e.path).sort()).toEqual(["a/b", "a/b/c.txt"]);
  });

  test("a missing root throws instead of looking like an empty folder", async () => {
    const gone = join(root, "nope");
    await expect(collect(walkFolder(gone, new IgnoreRules(gone)))).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("an aborted walk stops early", async () => {
    for (let i = 0; i < 10; i++) mkdirSync(join(root, `d${i}`));
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const e of walkFolder(root, new IgnoreRules(root), { signal: ac.signal })) {
      seen.push(e.path);
      ac.abort();
    }
    expect(seen.length).toBeLessThan(10);
  });
});
