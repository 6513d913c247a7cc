// Transfer progress over the admin SUBSCRIBE stream of the compiled binary: a 24 MiB file dropped into
// node1's folder is pushed to the other nodes, and node1's stream shows that push rising to 100%.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { renameSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { TestCluster, waitFor } from "./helpers/cluster.ts";

const SIZE = 24 * 1024 * 1024;
let c: TestCluster;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  c = await TestCluster.start({ size: 3 });
}, 60_000);
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await c?.destroy();
});

/** Every JSON line of a SUBSCRIBE stream, as it arrives. */
function subscribe(port: number): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  const sock = net.connect({ host: "127.0.0.1", port });
  sockets.push(sock);
  let buf = "";
  sock.on("connect", () => sock.write("SUBSCRIBE\n"));
  sock.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    for (let nl = buf.indexOf("\n"); nl !== -1; nl = buf.indexOf("\n")) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  sock.on("error", () => {});
  return lines;
}

test("a 24 MiB file: node1's SUBSCRIBE stream shows its push rising to 100%, throttled", async () => {
  const stream = subscribe(c.node(0).adminPort);
  await waitFor("the hello line", () => stream[0]?.type === "hello", 10_000);

  // Written beside the folders, then renamed in: the watcher sees one complete version.
  const tmp = path.join(c.dataDir, "big.bin.tmp");
  writeFileSync(tmp, randomBytes(SIZE));
  const t0 = performance.now();
  renameSync(tmp, path.join(c.folder(0), "big.bin"));

  const isBig = (e: Record<string, unknown>) => e.type === "transfer" && e.path === "big.bin";
  const final = await waitFor(
    "the final progress event of big.bin's push",
    () => stream.find((e) => isBig(e) && e.state !== "active"),
    90_000,
    50,
  );
  const seconds = (performance.now() - t0) / 1000;
  const evs = stream.filter((e) => isBig(e) && e.id === final.id);
  expect(evs.every((e) => e.direction === "push" && e.node === "node1")).toBe(true);
  expect(final).toMatchObject({ state: "done", bytesDone: SIZE, bytesTotal: SIZE });
  expect((final.peers as string[]).sort()).toEqual(["node2", "node3"]);
  expect(evs[0]!.bytesDone).toBe(0); // the first event comes before any byte moved
  for (let i = 1; i < evs.length; i++)
    expect(evs[i]!.bytesDone as number).toBeGreaterThanOrEqual(evs[i - 1]!.bytesDone as number);
  // Throttled: at most the first, one per 100 ms and the last (not one per chunk: ~380 here).
  expect(evs.length).toBeLessThanOrEqual(Math.ceil(((final.elapsedMs as number) + 1) / 100) + 2);
  console.log(
    `24 MiB push: ${evs.length} progress events over ${Math.round(final.elapsedMs as number)} ms (${seconds.toFixed(1)} s from rename to done): ${evs.map((e) => Math.floor(((e.bytesDone as number) * 100) / SIZE)).join("% ")}%`,
  );

  // The bytes arrived by push: the receivers have the file.
  for (const i of [1, 2])
    await waitFor(
      `big.bin on node${i + 1}`,
      () => statSync(path.join(c.folder(i), "big.bin"), { throwIfNoEntry: false })?.size === SIZE,
      60_000,
      100,
    );
}, 180_000);
