// Nodes that were down catch up: from the log after a restart, and through InstallSnapshot when the
// leader has compacted past them. kill -9 of the leader during a burst of writes on followers loses
// nothing that was written.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, statSync, utimesSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { admin, TestCluster, waitFor } from "./helpers/cluster.ts";

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.destroy();
  c = undefined;
});

describe("recovery", () => {
  test("a node stopped while the others change 500 files catches up on restart", async () => {
    c = await TestCluster.start({ size: 3 });
    const cl = c;
    await mkdir(path.join(cl.folder(0), "keep"));
    for (let i = 0; i < 20; i++) await writeFile(path.join(cl.folder(0), `keep/old${i}.txt`), `old ${i}`);
    await cl.waitConverged(20_000, (t) => t.has("keep/old19.txt"));

    await cl.kill(2, "SIGTERM");
    await mkdir(path.join(cl.folder(0), "while-down"));
    await mkdir(path.join(cl.folder(1), "while-down"));
    for (let i = 0; i < 500; i++) {
      await writeFile(
        path.join(cl.folder(i % 2), `while-down/f${i}.txt`),
        `written while node3 was down: ${i}\n`,
      );
    }
    for (let i = 0; i < 10; i++) await rm(path.join(cl.folder(1), `keep/old${i}.txt`));
    await writeFile(path.join(cl.folder(0), "keep/old19.txt"), "changed while down");
    await cl.waitConverged(
      60_000,
      (t) =>
        [...t.keys()].filter((k) => k.startsWith("while-down/")).length === 500 && !t.has("keep/old0.txt"),
    );

    await cl.restart(2);
    const t = await cl.waitConverged(
      60_000,
      (t) => [...t.keys()].filter((k) => k.startsWith("while-down/")).length === 500,
    );
    expect(t.has("keep/old5.txt")).toBe(false);
    expect(readFileSync(path.join(cl.folder(2), "keep/old19.txt"), "utf8")).toBe("changed while down");
  }, 180_000);

  test("edits made in a stopped node's own folder are proposed when it starts again", async () => {
    c = await TestCluster.start({ size: 3 });
    const cl = c;
    const f2 = (rel: string) => path.join(cl.folder(2), rel);
    await mkdir(path.join(cl.folder(0), "offline"));
    for (const name of ["same-size.txt", "grown.txt", "removed.txt", "mode.txt", "untouched.txt"])
      await writeFile(path.join(cl.folder(0), `offline/${name}`), "12345");
    await cl.waitConverged(20_000, (t) => t.has("offline/untouched.txt"));

    await cl.kill(2, "SIGTERM");
    // Same size and inode, a later mtime (set explicitly: the edit may share a clock tick with the apply).
    await writeFile(f2("offline/same-size.txt"), "54321");
    const later = new Date(Date.now() + 5000);
    utimesSync(f2("offline/same-size.txt"), later, later);
    await writeFile(f2("offline/grown.txt"), "123456");
    await rm(f2("offline/removed.txt"));
    chmodSync(f2("offline/mode.txt"), 0o600);
    await writeFile(f2("offline/new.txt"), "made while down");

    await cl.restart(2);
    const t = await cl.waitConverged(
      60_000,
      (t) => t.has("offline/new.txt") && !t.has("offline/removed.txt") && t.size > 0,
    );
    await cl.waitConverged(20_000, () =>
      [0, 1].every((i) => statSync(path.join(cl.folder(i), "offline/mode.txt")).mode % 0o1000 === 0o600),
    );
    for (const i of [0, 1, 2]) {
      const read = (rel: string) => readFileSync(path.join(cl.folder(i), rel), "utf8");
      expect(read("offline/same-size.txt")).toBe("54321");
      expect(read("offline/grown.txt")).toBe("123456");
      expect(read("offline/untouched.txt")).toBe("12345");
    }
    expect(t.has("offline/new.txt")).toBe(true);
  }, 120_000);

  test("a node behind the leader's last snapshot is rebuilt through InstallSnapshot", async () => {
    c = await TestCluster.start({
      size: 3,
      extraArgs: ["--snapshot-threshold", "40", ...(process.env.PICKBOX_TEST_DEBUG ? ["-l", "debug"] : [])],
    });
    const cl = c;
    await writeFile(path.join(cl.folder(0), "before.txt"), "before");
    await writeFile(path.join(cl.folder(0), "doomed.txt"), "will be deleted while node3 is down");
    await writeFile(path.join(cl.folder(0), "changing.txt"), "v1");
    await cl.waitConverged(20_000, (t) => t.has("doomed.txt") && t.has("changing.txt"));
    await cl.kill(2);

    // Many separate log entries (one FORWARD each) so the leader snapshots and compacts twice over.
    const leader = await cl.leaderIndex();
    const port = cl.node(leader).adminPort;
    for (let i = 0; i < 150; i++) {
      const data = Buffer.from(`entry ${i}\n`).toString("base64");
      expect(await admin(port, `FORWARD {"op":"write","path":"snap/e${i}.txt","data":"${data}"}`)).toBe(
        "OK\n",
      );
    }
    await rm(path.join(cl.folder(0), "doomed.txt"));
    await writeFile(path.join(cl.folder(1), "changing.txt"), "v2 while down");
    await cl.waitConverged(30_000, (t) => !t.has("doomed.txt") && t.has("snap/e149.txt"));

    await cl.restart(2);
    const t = await cl.waitConverged(60_000, (t) => t.has("snap/e149.txt") && !t.has("doomed.txt"));
    expect(t.has("before.txt")).toBe(true);
    expect(readFileSync(path.join(cl.folder(2), "changing.txt"), "utf8")).toBe("v2 while down");
    const log = readFileSync(path.join(cl.folder(2), ".pickbox/node.log"), "utf8");
    expect(log).toContain("installed snapshot from the leader");
  }, 180_000);

  test("kill -9 of the leader during a burst of writes on followers: every write reaches every node", async () => {
    c = await TestCluster.start({ size: 3 });
    const cl = c;
    const leader = await cl.leaderIndex();
    const followers = [0, 1, 2].filter((i) => i !== leader);
    await Promise.all(followers.map((i) => mkdir(path.join(cl.folder(i), `burst-${i}`))));
    const written: string[] = [];
    const writer = (async () => {
      for (let k = 0; k < 300; k++) {
        for (const i of followers) {
          const rel = `burst-${i}/f${k}.txt`;
          await writeFile(path.join(cl.folder(i), rel), `burst ${i} ${k}\n`);
          written.push(rel);
        }
        if (k % 20 === 0) await Bun.sleep(5);
      }
    })();
    await waitFor("some of the burst to commit", async () => (await cl.tree(leader)).size > 20, 20_000);
    await cl.kill(leader);
    await writer;
    // The survivors elect a new leader and every write made on them replicates between them...
    await cl.waitConverged(60_000, (t) => written.every((w) => t.has(w)));
    // ...and the old leader gets everything when it comes back.
    await cl.restart(leader);
    const t = await cl.waitConverged(60_000, (t) => written.every((w) => t.has(w)));
    expect(written.every((w) => t.has(w))).toBe(true);
    expect(written.length).toBe(600);
  }, 180_000);
});
