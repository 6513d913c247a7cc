// A recorded history of concurrent reads and writes on shared paths, through all three nodes of a real
// 3-process cluster, with the leader killed (SIGKILL) midway, must be linearizable as a register per path.
//
// How outcomes enter the history:
//   write: window = [CLOSE sent, CLOSE answered]. OK → the value took the name. ECONFLICT → it did not
//          (kept as a conflict copy): left out. Any other failure of CLOSE (ETIMEDOUT, connection lost) →
//          unknown: the write may take effect at any time after CLOSE was sent, or never (end = Infinity).
//          Failures before CLOSE commit nothing: left out. Every other write goes through putFile,
//          which sends OPEN, WRITE and CLOSE in one round trip: its window starts when putFile is called,
//          and any failure but ECONFLICT is unknown (OPEN's error may come back after the CLOSE ran).
//   read:  window = [OPEN sent, READ answered] (OPEN pins the version after a ReadIndex barrier);
//          ENOENT reads as null. Failed reads are left out.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { FileApiClient } from "../../src/fileapi/client.ts";
import { FileApiError } from "../../src/fileapi/errors.ts";
import { waitFor } from "../integration/helpers/cluster.ts";
import { checkRegisters, type Operation } from "./linearizability.ts";
import { ProcessCluster } from "./process-cluster.ts";

const KEYS = ["lin/a.txt", "lin/b.txt", "lin/c.txt"];
const CLIENTS_PER_NODE = 4;
const RUN_MS = 7000;
const KILL_AT_MS = 2500;

let c: ProcessCluster;
beforeAll(async () => {
  c = await ProcessCluster.start(3);
}, 60_000);
afterAll(async () => {
  await c?.destroy();
});

/** A small seeded PRNG: which key and which verb each step picks. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("concurrent reads and writes through every node, leader killed midway: linearizable", async () => {
  const history: Operation[] = [];
  const counts = { ok: 0, conflicts: 0, unknown: 0, failed: 0, afterKill: 0 };
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  let killedAt = Number.POSITIVE_INFINITY;
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  const runClient = async (nodeIdx: number, clientIdx: number) => {
    const name = `n${nodeIdx}c${clientIdx}`;
    const rnd = prng(nodeIdx * 100 + clientIdx + 1);
    const cl = await FileApiClient.connect(c.nodes[nodeIdx]!.client);
    let seq = 0;
    try {
      while (now() < RUN_MS) {
        const key = KEYS[Math.floor(rnd() * KEYS.length)]!;
        if (rnd() < 0.5) {
          const value = `${name}-${++seq}`;
          // Puts a write's outcome in the history; true when the connection is gone.
          const settle = (start: number, err?: unknown): boolean => {
            if (err === undefined) {
              history.push({ key, kind: "write", value, start, end: now(), client: name });
              counts.ok++;
              if (start > killedAt) counts.afterKill++;
              return false;
            }
            if (err instanceof FileApiError && err.code === "ECONFLICT") {
              counts.conflicts++;
              return false;
            }
            history.push({ key, kind: "write", value, start, end: Number.POSITIVE_INFINITY, client: name });
            counts.unknown++;
            return isDead(err);
          };
          if (seq % 2 === 0) {
            const start = now();
            const err = await cl.putFile(key, enc.encode(value)).then(
              () => undefined,
              (e: unknown) => e,
            );
            if (settle(start, err)) return;
            continue;
          }
          let handle: number;
          try {
            handle = (await cl.open(key, "w")).handle;
            await cl.write(handle, 0, enc.encode(value));
          } catch (e) {
            counts.failed++;
            if (isDead(e)) return;
            continue;
          }
          const start = now();
          const err = await cl.close(handle).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (err !== undefined && !(err instanceof FileApiError && err.code === "ECONFLICT"))
            await cl.abort(handle).catch(() => {});
          if (settle(start, err)) return;
        } else {
          const start = now();
          try {
            let value: string | null;
            try {
              const h = await cl.open(key, "r");
              value = dec.decode(await cl.read(h.handle, 0, 1024));
              await cl.close(h.handle).catch(() => {});
            } catch (e) {
              if (!(e instanceof FileApiError && e.code === "ENOENT")) throw e;
              value = null;
            }
            history.push({ key, kind: "read", value, start, end: now(), client: name });
            counts.ok++;
            if (start > killedAt) counts.afterKill++;
          } catch (e) {
            counts.failed++;
            if (isDead(e)) return;
          }
        }
      }
    } finally {
      cl.destroy();
    }
  };

  const killer = (async () => {
    await Bun.sleep(KILL_AT_MS);
    const leader = await c.leaderIndex();
    expect(leader).toBeGreaterThanOrEqual(0);
    killedAt = now();
    c.kill(leader);
  })();
  const clients: Promise<void>[] = [];
  for (let n = 0; n < 3; n++) for (let k = 0; k < CLIENTS_PER_NODE; k++) clients.push(runClient(n, k));
  await Promise.all([killer, ...clients]);

  // A new leader took over among the survivors.
  await waitFor("a new leader", async () => (await c.leaderIndex()) >= 0, 15_000);

  const result = checkRegisters(history);
  if (!result.ok) {
    for (const [key, ok] of Object.entries(result.keys)) {
      if (ok) continue;
      console.error(`not linearizable: ${key}`);
      for (const op of history.filter((o) => o.key === key).sort((a, b) => a.start - b.start))
        console.error(`  ${op.start.toFixed(1)}..${op.end.toFixed(1)} ${op.client} ${op.kind} ${op.value}`);
    }
  }
  console.log(JSON.stringify({ ops: history.length, ...counts, explored: result.explored }));
  expect(result.ok).toBe(true);
  // The history is worth checking: many completed operations, on every key, and some after the kill.
  expect(counts.ok).toBeGreaterThan(100);
  expect(counts.afterKill).toBeGreaterThan(10);
  for (const key of KEYS)
    expect(history.filter((o) => o.key === key && o.kind === "write").length).toBeGreaterThan(5);
}, 90_000);

function isDead(e: unknown): boolean {
  return e instanceof FileApiError && e.code === "ECONNRESET";
}
