// applyMany (several committed entries in one transaction) must decide exactly what one-by-one apply
// decides: same folder, same results, wherever the batch boundaries fall.
import { afterEach, expect, spyOn, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, type Stats, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Entry } from "../../src/raft/types.ts";
import { encodeCommand, type LeafCommand } from "../../src/store/commands.ts";
import { Materializer } from "../../src/store/materializer.ts";
import { del, folderState, makeNode, openNode, put, removeDir, tempDir } from "./fsm-fixture.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

/** A history with overwrites, a concurrent edit (conflict copy), a delete, an empty and an invalid entry. */
function history(): Entry[] {
  const cmds: (LeafCommand[] | "empty" | "invalid")[] = [
    [put("a.txt", "a1", { origin: "n1", mtimeMs: 1_700_000_000_000 })],
    [put("dir/b.txt", "b1", { origin: "n2" }), put("dir/c.txt", "c1", { origin: "n2" })],
    "empty",
    [put("a.txt", "a2 by n1", { origin: "n1", base: { n1: 1 }, mtimeMs: 1_700_000_001_000 })],
    // Based on the first version too: concurrent with the entry above, so it becomes a conflict copy.
    [put("a.txt", "a2 by n3", { origin: "n3", base: { n1: 1 }, mtimeMs: 1_700_000_002_000 })],
    "invalid",
    [del("dir/c.txt", { n2: 1 }, "n2")],
    [put("dir/b.txt", "b2", { origin: "n1", base: { n2: 1 } })],
  ];
  return cmds.map((c, i) => ({
    index: i + 1,
    term: 1,
    type: 0 as const,
    data:
      c === "empty" ? new Uint8Array() : c === "invalid" ? new Uint8Array([0xc1, 0x00]) : encodeCommand(c),
  }));
}

test("applyMany gives the same folder and results as applying entries one by one", async () => {
  const base = tempDir();
  dirs.push(base);
  const one = makeNode(base, "one");
  const oneResults = [];
  for (const e of history()) oneResults.push(await one.fsm.apply(e));

  for (const split of [[8], [3, 5], [1, 1, 6], [2, 2, 2, 2]]) {
    const node = makeNode(base, `batched-${split.join("-")}`);
    const entries = history();
    const results = [];
    let at = 0;
    for (const n of split) {
      results.push(...(await node.fsm.applyMany(entries.slice(at, at + n))));
      at += n;
    }
    expect(folderState(node.root)).toEqual(folderState(one.root));
    expect(results).toEqual(oneResults);
    expect(node.fsm.appliedIndex()).toBe(8);
    // Re-applying the same entries afterwards is harmless (crash recovery replays the log).
    const again = await node.fsm.applyMany(history());
    expect(again.every((r) => r.action === "skipped")).toBe(true);
    node.close();
  }
  const state = folderState(one.root);
  expect(Object.keys(state).some((k) => k.includes(".sync-conflict-"))).toBe(true);
  expect(state["dir/c.txt"]).toBeUndefined();
  one.close();
});

test("a batch stages no copy of the origin's own unchanged files; others' files and changed ones are staged", async () => {
  const base = tempDir();
  dirs.push(base);
  const root = path.join(base, "n1");
  mkdirSync(path.join(root, ".pickbox"), { recursive: true });
  const own = [put("mine-1.txt", "one", { origin: "n1" }), put("mine-2.txt", "two", { origin: "n1" })];
  const proposed = new Map<string, { st: Stats; hash: string }>();
  for (const c of own) {
    writeFileSync(path.join(root, c.path), c.path === "mine-1.txt" ? "one" : "two");
    proposed.set(c.path, { st: statSync(path.join(root, c.path)), hash: c.hash });
  }
  const node = openNode(root, "n1", new Map(), undefined, "boot-1", {
    // As LocalScanner.knownHash answers: the hash it proposed while the stat is the one it hashed.
    knownHash: (rel, st) => {
      const p = proposed.get(rel);
      return p && p.st.size === st.size && p.st.mtimeMs === st.mtimeMs && p.st.ino === st.ino
        ? p.hash
        : undefined;
    },
  });
  const stage = spyOn(Materializer.prototype, "stage");
  try {
    // mine-2.txt was edited again after it was proposed: its stat no longer matches.
    writeFileSync(path.join(root, "mine-2.txt"), "two, edited");
    const others = [put("theirs-1.txt", "a", { origin: "n2" }), put("theirs-2.txt", "b", { origin: "n2" })];
    const cmds = [...own, ...others];
    const entries = cmds.map((c, i) => ({
      index: i + 1,
      term: 1,
      type: 0 as const,
      data: encodeCommand([c]),
    }));
    const results = await node.fsm.applyMany(entries);
    expect(results.map((r) => r.applied)).toEqual([true, true, true, true]);
    // The local edit is kept (in place or as a copy), whatever the decision.
    const texts = readdirSync(root)
      .filter((f) => f.endsWith(".txt"))
      .map((f) => readFileSync(path.join(root, f), "utf8"));
    expect(texts).toContain("two, edited");
    // Staged: the two foreign files and the edited one (its agreed bytes may be needed); not mine-1.txt.
    expect(stage).toHaveBeenCalledTimes(3);
    expect(readFileSync(path.join(root, "mine-1.txt"), "utf8")).toBe("one");
    expect(statSync(path.join(root, "mine-1.txt")).ino).toBe(proposed.get("mine-1.txt")!.st.ino);
    expect(readFileSync(path.join(root, "theirs-2.txt"), "utf8")).toBe("b");
    expect(readdirSync(path.join(root, ".pickbox", "tmp")).length).toBe(0);
  } finally {
    stage.mockRestore();
    node.close();
  }
});
