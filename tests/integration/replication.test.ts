// Multi-directional replication with the compiled binary: every kind of change, made on a different
// node each time, converges to identical trees (path, bytes, SHA-256, mode) on every node.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { TestCluster } from "./helpers/cluster.ts";

for (const size of [3, 5]) {
  describe(`${size}-node cluster`, () => {
    let c: TestCluster;
    const on = (i: number, rel: string) => path.join(c.folder(i % size), rel);

    beforeAll(async () => {
      c = await TestCluster.start({ size });
    }, 60_000);
    afterAll(async () => {
      await c?.destroy();
    });

    test("create, modify, append, truncate, empty and binary files, each on a different node", async () => {
      const bin = randomBytes(300_000);
      writeFileSync(on(0, "created.txt"), "created on node1\n");
      writeFileSync(on(1, "empty.txt"), "");
      writeFileSync(on(2, "binary.bin"), bin);
      const t = await c.waitConverged(
        20_000,
        (t) => t.has("created.txt") && t.has("empty.txt") && t.has("binary.bin"),
      );
      expect(t.get("binary.bin")?.split(":")[0]).toBe(
        new Bun.CryptoHasher("sha256").update(bin).digest("hex"),
      );

      writeFileSync(on(3, "created.txt"), "modified elsewhere\n");
      appendFileSync(on(4, "binary.bin"), "tail");
      // Every node must have the append before another one truncates: otherwise the two edits are
      // concurrent, and one of them (correctly) becomes a conflict copy.
      for (let i = 0; i < size; i++) {
        await waitText(on(i, "created.txt"), (b) => b.toString() === "modified elsewhere\n");
        await waitText(on(i, "binary.bin"), (b) => b.length === bin.length + 4);
      }

      truncateSync(on(size - 1, "binary.bin"), 1000);
      await waitText(on(0, "binary.bin"), (b) => b.length === 1000);
      const final = await c.waitConverged();
      expect(
        final
          .get("empty.txt")
          ?.startsWith("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
      ).toBe(true);
    }, 60_000);

    test("delete, rename/move, mkdir/rmdir and nested directories", async () => {
      mkdirSync(on(1, "a/b/c"), { recursive: true });
      writeFileSync(on(1, "a/b/c/deep.txt"), "deep");
      writeFileSync(on(2, "to-delete.txt"), "bye");
      writeFileSync(on(0, "move-me.txt"), "moving");
      mkdirSync(on(2, "empty-dir"));
      await c.waitConverged(
        20_000,
        (t) =>
          t.has("a/b/c/deep.txt") && t.has("to-delete.txt") && t.has("move-me.txt") && t.has("empty-dir"),
      );

      rmSync(on(0, "to-delete.txt"));
      mkdirSync(on(1, "moved"), { recursive: true });
      renameSync(on(1, "move-me.txt"), on(1, "moved/now-here.txt"));
      rmdirSync(on(2, "empty-dir"));
      const t = await c.waitConverged(
        20_000,
        (t) =>
          !t.has("to-delete.txt") &&
          !t.has("move-me.txt") &&
          t.has("moved/now-here.txt") &&
          !t.has("empty-dir"),
      );
      expect(t.get("a/b/c")).toBe("dir");
      expect(await Bun.file(on(2, "moved/now-here.txt")).text()).toBe("moving");
    }, 60_000);

    test("file modes 0600 and 0755 replicate", async () => {
      writeFileSync(on(0, "secret.txt"), "s");
      chmodSync(on(0, "secret.txt"), 0o600);
      writeFileSync(on(1, "tool.sh"), "#!/bin/sh\necho hi\n");
      chmodSync(on(1, "tool.sh"), 0o755);
      const t = await c.waitConverged(
        20_000,
        (t) => t.get("secret.txt")?.endsWith(":600") === true && t.get("tool.sh")?.endsWith(":755") === true,
      );
      expect(t.get("tool.sh")?.endsWith(":755")).toBe(true);
    }, 60_000);

    test("editor patterns: write a temp file and rename over; delete then recreate", async () => {
      writeFileSync(on(2, "doc.txt"), "v1");
      await c.waitConverged(20_000, (t) => t.has("doc.txt"));
      // vim / VS Code: write elsewhere, rename over the original.
      writeFileSync(on(2, ".doc.txt.swp"), "swap junk");
      writeFileSync(on(2, "doc.txt.tmp~"), "v2 via rename");
      renameSync(on(2, "doc.txt.tmp~"), on(2, "doc.txt"));
      rmSync(on(2, ".doc.txt.swp"));
      // Every node has v2 before the next edit, or that edit would (rightly) be a concurrent one.
      for (let i = 0; i < size; i++)
        await waitText(on(i, "doc.txt"), (b) => b.toString() === "v2 via rename");
      // Delete then recreate on another node.
      rmSync(on(1, "doc.txt"));
      writeFileSync(on(1, "doc.txt"), "v3 recreated");
      // (Every node already had doc.txt, so "converged with doc.txt" alone would not wait for the change.)
      for (let i = 0; i < size; i++) await waitText(on(i, "doc.txt"), (b) => b.toString() === "v3 recreated");
      const t = await c.waitConverged(20_000, (t) => t.has("doc.txt"));
      expect(await Bun.file(on(0, "doc.txt")).text()).toBe("v3 recreated");
      expect([...t.keys()].some((k) => k.includes(".swp"))).toBe(false);
    }, 60_000);

    test("1,000 small files written on one node converge everywhere", async () => {
      mkdirSync(on(1, "many"));
      for (let i = 0; i < 1000; i++) writeFileSync(on(1, `many/f${i}.txt`), `file ${i}\n`);
      const t = await c.waitConverged(
        60_000,
        (t) => [...t.keys()].filter((k) => k.startsWith("many/")).length === 1000,
      );
      expect(t.get("many/f999.txt")).toBeDefined();
    }, 90_000);
  });
}

async function waitText(file: string, ok: (b: Buffer) => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (ok(Buffer.from(await Bun.file(file).arrayBuffer()))) return;
    } catch {}
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting for ${file}`);
}
