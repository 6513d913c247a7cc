// Concurrent edits never lose data: the same file written differently on two nodes at the same moment
// converges everywhere with both contents present (the file and a .sync-conflict- copy); an edit beats
// a concurrent delete.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { TestCluster } from "./helpers/cluster.ts";

describe("concurrent edits on a 3-node cluster", () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start({ size: 3 });
  }, 60_000);
  afterAll(async () => {
    await c?.destroy();
  });

  /** Contents of `name` and of its conflict copies in node i's folder. */
  async function versions(
    i: number,
    stem: string,
    ext: string,
    tree: Map<string, string>,
  ): Promise<string[]> {
    const names = [...tree.keys()].filter(
      (k) => k === `${stem}${ext}` || (k.startsWith(`${stem}.sync-conflict-`) && k.endsWith(ext)),
    );
    return Promise.all(names.map((n) => readFile(path.join(c.folder(i), n), "utf8"))).then((v) => v.sort());
  }

  test("the same file written on two nodes at once, 20 times: converges with both contents kept", async () => {
    for (let round = 0; round < 20; round++) {
      const stem = `race${round}`;
      await writeFile(path.join(c.folder(0), `${stem}.txt`), "base\n");
      await c.waitConverged(20_000, (t) => t.has(`${stem}.txt`));
      const a = `written on node2 in round ${round}\n`;
      const b = `written on node3 in round ${round}\n`;
      await Promise.all([
        writeFile(path.join(c.folder(1), `${stem}.txt`), a),
        writeFile(path.join(c.folder(2), `${stem}.txt`), b),
      ]);
      const tree = await c.waitConverged(30_000, (t) => {
        const n = [...t.keys()].filter((k) => k.startsWith(stem)).length;
        return n >= 2; // the file plus at least one conflict copy
      });
      for (let i = 0; i < 3; i++) {
        const v = await versions(i, stem, ".txt", tree);
        expect(v).toContain(a);
        expect(v).toContain(b);
      }
    }
  }, 240_000);

  test("an edit beats a concurrent delete", async () => {
    const f = (i: number) => path.join(c.folder(i), "contested.txt");
    await writeFile(f(0), "original\n");
    await c.waitConverged(20_000, (t) => t.has("contested.txt"));
    await Promise.all([rm(f(1)), writeFile(f(2), "edited while someone deleted\n")]);
    const tree = await c.waitConverged(30_000, (t) => t.has("contested.txt"));
    // Whatever order the log chose, the edit survives on every node under the original name.
    const contents = await Promise.all([0, 1, 2].map((i) => readFile(f(i), "utf8")));
    expect(new Set(contents)).toEqual(new Set(["edited while someone deleted\n"]));
    expect(tree.get("contested.txt")).toBeDefined();
  }, 60_000);
});
