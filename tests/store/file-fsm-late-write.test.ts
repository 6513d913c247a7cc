// A write that races an apply is never lost: an editor that opened the file before the FSM replaced it
// and writes afterwards writes into the old inode, which the FSM kept aside and rescues as a conflict copy.
import { afterEach, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { encodeCommand } from "../../src/store/commands.ts";
import { makeNode, put, removeDir, tempDir } from "./fsm-fixture.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await Bun.sleep(20);
  }
  return cond();
}

test("a write through a handle opened before the apply ends up in a conflict copy", async () => {
  const base = tempDir();
  dirs.push(base);
  const node = makeNode(base, "n2");
  await node.fsm.apply({
    index: 1,
    term: 1,
    type: 0,
    data: encodeCommand(put("doc.txt", "v1", { origin: "n1" })),
  });

  const editor = await open(path.join(node.root, "doc.txt"), "r+"); // opened before the update arrives
  await node.fsm.apply({
    index: 2,
    term: 1,
    type: 0,
    data: encodeCommand(put("doc.txt", "v2 from n1", { origin: "n1", base: { n1: 1 } })),
  });
  await editor.write("edited late", 0);
  await editor.close();

  expect(readFileSync(path.join(node.root, "doc.txt"), "utf8")).toBe("v2 from n1");
  const copies = () => readdirSync(node.root).filter((f) => f.startsWith("doc.sync-conflict-"));
  expect(await until(() => copies().length === 1, 6000)).toBe(true);
  expect(readFileSync(path.join(node.root, copies()[0]!), "utf8")).toBe("edited late");
  node.close();
}, 15_000);

test("without a late write nothing is rescued and the kept inode is dropped", async () => {
  const base = tempDir();
  dirs.push(base);
  const node = makeNode(base, "n2");
  await node.fsm.apply({
    index: 1,
    term: 1,
    type: 0,
    data: encodeCommand(put("doc.txt", "v1", { origin: "n1" })),
  });
  await node.fsm.apply({
    index: 2,
    term: 1,
    type: 0,
    data: encodeCommand(put("doc.txt", "v2", { origin: "n1", base: { n1: 1 } })),
  });
  const tmp = path.join(node.root, ".pickbox/tmp");
  const held = () => (existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith("old-")) : []);
  expect(await until(() => held().length === 0, 6000)).toBe(true);
  expect(readdirSync(node.root).filter((f) => f.includes("sync-conflict"))).toEqual([]);
  node.close();
}, 15_000);

test("a person deleting and recreating a file while updates are applied never makes an apply fail", async () => {
  const base = tempDir();
  dirs.push(base);
  const node = makeNode(base, "n2");
  const file = path.join(node.root, "busy.txt");
  let stop = false;
  const user = (async () => {
    const { rm, writeFile } = await import("node:fs/promises");
    for (let i = 0; !stop; i++) {
      await rm(file, { force: true });
      if (i % 2 === 0) await writeFile(file, `user ${i}`).catch(() => {});
      await Bun.sleep(0);
    }
  })();
  let clock: Record<string, number> = {};
  for (let i = 1; i <= 100; i++) {
    const r = await node.fsm.apply({
      index: i,
      term: 1,
      type: 0,
      data: encodeCommand(put("busy.txt", `v${i}`, { origin: "n1", base: clock })),
    });
    expect(r.index).toBe(i);
    clock = node.index.get("busy.txt")?.clock ?? clock;
  }
  stop = true;
  await user;
  expect(node.fsm.appliedIndex()).toBe(100);
  node.close();
}, 30_000);
