// 50 clients at once, spread over the three nodes of a cluster, on distinct and on shared paths:
// no write is lost (every acknowledged version is either the current one or was replaced by a later
// acknowledged version; every ECONFLICT's bytes are in a conflict copy), and nothing is torn (every read,
// every final file and every conflict copy is one whole value some client wrote).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { FileApiClient } from "../../src/fileapi/client.ts";
import { FileApiError } from "../../src/fileapi/errors.ts";
import { waitFor } from "../integration/helpers/cluster.ts";
import { InProcessCluster } from "./harness.ts";

const CLIENTS = 50;
const SHARED = ["shared/s0.bin", "shared/s1.bin", "shared/s2.bin", "shared/s3.bin", "shared/s4.bin"];

let c: InProcessCluster;
beforeAll(async () => {
  c = await InProcessCluster.start(3);
}, 60_000);
afterAll(async () => {
  await c?.destroy();
});

/** A value: a header line naming its writer, then bytes derived from it (a torn mix cannot pass `parse`). */
function value(token: string, size: number): Uint8Array {
  const head = new TextEncoder().encode(`${token}:${size}\n`);
  const out = new Uint8Array(head.length + size);
  out.set(head);
  let s = 0;
  for (const ch of token) s = (Math.imul(s, 31) + ch.charCodeAt(0)) | 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    out[head.length + i] = s >>> 24;
  }
  return out;
}

/** The token of a whole value, or null if the bytes are not exactly one value. */
function parse(bytes: Uint8Array): string | null {
  const nl = bytes.indexOf(10);
  if (nl < 0) return null;
  const [token, size] = new TextDecoder().decode(bytes.subarray(0, nl)).split(":");
  if (!token || !size) return null;
  const expected = value(token, Number(size));
  return Buffer.compare(Buffer.from(expected), Buffer.from(bytes)) === 0 ? token : null;
}

test("50 concurrent clients on distinct and shared paths: no lost or torn writes", async () => {
  const acked = new Map<string, { token: string; version: number }[]>(); // path → acknowledged versions
  const conflicted: { path: string; token: string; conflictPath: string }[] = [];
  const lastOwn = new Map<string, string>();
  let reads = 0;

  const run = async (i: number) => {
    const cl = await FileApiClient.connect(c.address(i % 3));
    try {
      for (let round = 0; round < 3; round++) {
        // Distinct path; sizes cross the inline limit, so some versions ship chunks out of band.
        const own = `own/c${i}.bin`;
        const ownToken = `c${i}-own-${round}`;
        await cl.putFile(own, value(ownToken, 1000 + ((i * 7919 + round * 104_729) % 400_000)));
        lastOwn.set(own, ownToken);
        // Shared paths.
        const p = SHARED[(i + round) % SHARED.length]!;
        const token = `c${i}-sh-${round}`;
        try {
          const info = await cl.putFile(p, value(token, 500 + ((i * 31 + round) % 50) * 1000));
          const list = acked.get(p) ?? [];
          list.push({ token, version: info.version });
          acked.set(p, list);
        } catch (e) {
          if (!(e instanceof FileApiError && e.code === "ECONFLICT")) throw e;
          conflicted.push({ path: p, token, conflictPath: e.conflictPath! });
        }
        // Reads of shared paths while others write them: whole values only.
        const q = SHARED[(i * 3 + round) % SHARED.length]!;
        try {
          const bytes = await cl.readFile(q);
          expect(parse(bytes)).not.toBeNull();
          reads++;
        } catch (e) {
          if (!(e instanceof FileApiError && e.code === "ENOENT")) throw e;
        }
      }
    } finally {
      cl.destroy();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => run(i)));

  const check = await FileApiClient.connect(c.address(1));
  // Distinct paths: each holds its writer's last version.
  for (const [p, token] of lastOwn) expect(parse(await check.readFile(p))).toBe(token);
  // Shared paths: the acknowledged version committed last holds the name.
  for (const p of SHARED) {
    const list = acked.get(p) ?? [];
    expect(list.length).toBeGreaterThan(0);
    const newest = list.reduce((a, b) => (b.version > a.version ? b : a));
    expect(parse(await check.readFile(p))).toBe(newest.token);
    expect((await check.stat(p)).version).toBe(newest.version);
  }
  // Conflicts kept their bytes: each copy is one whole value of a writer that was told ECONFLICT for it.
  // (Several conflicts of one path from one node within one second share a copy name and the last one
  // wins: a store gap pinned by the test.failing case in server.test.ts; hence "some writer", not "each".)
  for (const cf of conflicted) {
    const token = parse(await check.readFile(cf.conflictPath));
    expect(token).not.toBeNull();
    expect(conflicted.some((x) => x.conflictPath === cf.conflictPath && x.token === token)).toBe(true);
  }
  const copies = (await check.list("shared")).entries.filter((e) => e.path.includes(".sync-conflict-"));
  expect(new Set(copies.map((e) => e.path))).toEqual(new Set(conflicted.map((x) => x.conflictPath)));
  expect(reads).toBeGreaterThan(CLIENTS);
  console.log(
    JSON.stringify({
      acked: [...acked.values()].reduce((n, l) => n + l.length, 0),
      conflicts: conflicted.length,
      distinctCopies: new Set(conflicted.map((x) => x.conflictPath)).size,
      reads,
    }),
  );

  // Every node's folder converges to the same bytes.
  const all = [...lastOwn.keys(), ...SHARED];
  await waitFor(
    "all three folders to agree",
    () =>
      all.every((p) => {
        const want = readFileSync(path.join(c.nodes[0]!.node.folder, p));
        return [1, 2].every((n) => {
          try {
            return readFileSync(path.join(c.nodes[n]!.node.folder, p)).equals(want);
          } catch {
            return false;
          }
        });
      }),
    30_000,
  );
  check.destroy();
}, 120_000);
