// A 256 MiB file written on one node converges byte-identical on the others, then a small edit in its
// middle converges too. Chunks travel out of band (not through the Raft log) in bounded batches.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { TestCluster, waitFor } from "./helpers/cluster.ts";

const SIZE = 256 * 1024 * 1024;
const PIECE = 8 * 1024 * 1024;
let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({ size: 3 });
}, 60_000);
afterAll(async () => {
  await c?.destroy();
});

/** Deterministic pseudo-random piece k (xorshift), so the test never holds the whole file. */
function piece(k: number): Buffer {
  const b = Buffer.allocUnsafe(PIECE);
  let x = (0x9e3779b9 ^ (k * 2654435761)) >>> 0 || 1;
  for (let i = 0; i < PIECE; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

function sha256File(p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(p)
      .on("data", (d) => h.update(d))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

function peakRssMb(pid: number | undefined): number {
  const m = pid ? /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8")) : null;
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

test("a 256 MiB file and then a 4 KiB edit in its middle converge on every node", async () => {
  const origin = path.join(c.folder(1), "big.bin");
  const expected = createHash("sha256");
  const fh = await open(origin, "w");
  for (let k = 0; k < SIZE / PIECE; k++) {
    const p = piece(k);
    expected.update(p);
    await fh.write(p);
  }
  await fh.close();
  const hash = expected.digest("hex");
  const t0 = performance.now();
  for (const i of [0, 2]) {
    const target = path.join(c.folder(i), "big.bin");
    await waitFor(
      "the big file everywhere",
      () => statSync(target, { throwIfNoEntry: false })?.size === SIZE,
      180_000,
      100,
    );
    expect(await sha256File(target)).toBe(hash);
  }
  console.log(
    `256 MiB converged in ${((performance.now() - t0) / 1000).toFixed(1)} s; peak RSS per node (MB): ${c.nodes.map((n) => peakRssMb(n.proc?.pid)).join(", ")}`,
  );

  // Overwrite 4 KiB in the middle on another node: only the changed chunks travel.
  const patch = Buffer.alloc(4096, 0x5a);
  const edit = await open(path.join(c.folder(2), "big.bin"), "r+");
  await edit.write(patch, 0, patch.length, SIZE / 2);
  await edit.close();
  const editedHash = await sha256File(path.join(c.folder(2), "big.bin"));
  for (const i of [0, 1]) {
    const target = path.join(c.folder(i), "big.bin");
    await waitFor("the edit everywhere", async () => (await sha256File(target)) === editedHash, 60_000, 200);
  }
}, 300_000);
