// Raft over real processes and TCP: a leader is elected, 10,000 entries commit (one FORWARD each, so
// one log entry each), kill -9 of the leader, a new leader follows, and every acknowledged entry is
// on every survivor and on the restarted node.
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import path from "node:path";
import { admin, TestCluster, waitFor } from "./helpers/cluster.ts";

let c: TestCluster | undefined;
afterAll(async () => {
  await c?.destroy();
});

test("10,000 entries commit; after kill -9 of the leader every acknowledged entry survives everywhere", async () => {
  c = await TestCluster.start({ size: 3 });
  const cl = c;
  const first = await cl.leaderIndex();
  const termBefore = Number((await cl.status(first)).term);

  // 10,000 acknowledged entries: 32 concurrent clients, one FORWARD (= one entry) per file.
  const acked: string[] = [];
  let next = 0;
  const total = 10_000;
  const port = cl.node(first).adminPort;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const i = next++;
        const rel = `e/${Math.floor(i / 1000)}/entry-${i}.txt`;
        const reply = await admin(
          port,
          `FORWARD {"op":"write","path":"${rel}","data":"${Buffer.from(`${i}\n`).toString("base64")}"}`,
        );
        expect(reply).toBe("OK\n");
        acked.push(rel);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `10,000 entries committed in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} entries/s)`,
  );
  expect(acked.length).toBe(total);
  const commit = Number((await cl.status(first)).commit_index);
  expect(commit).toBeGreaterThanOrEqual(total);

  // A burst of acknowledged writes keeps going while the leader is killed.
  const survivors = [0, 1, 2].filter((i) => i !== first);
  await cl.kill(first);
  const newLeader = await waitFor(
    "a new leader in a higher term",
    async () => {
      for (const i of survivors) {
        const st = await cl.status(i);
        if (st.state === "Leader" && Number(st.term) > termBefore) return i + 1;
      }
      return false;
    },
    10_000,
  ).then((x) => x - 1);
  for (let i = 0; i < 200; i++) {
    const rel = `after/entry-${i}.txt`;
    expect(
      await admin(cl.node(newLeader).adminPort, `FORWARD {"op":"write","path":"${rel}","data":"YQ=="}`),
    ).toBe("OK\n");
    acked.push(rel);
  }

  const has = (t: Map<string, string>) => acked.every((p) => t.has(p));
  await cl.waitConverged(120_000, has);
  await cl.restart(first);
  const tree = await cl.waitConverged(120_000, has);
  expect(has(tree)).toBe(true);
  expect(readdirSync(path.join(cl.folder(first), "e")).length).toBe(10);
}, 300_000);
