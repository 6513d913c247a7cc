// Worker thread of FileHasher, off the node's main thread:
// - { id, path }: SHA-256 of the whole file → { id, hash, size } or { id, error };
// - { id, op: "chunk", path, window }: the file cut into chunks (FastCDC) and each chunk hashed, in
//   blocks of the file's bytes that are transferred (not copied) to the main thread → { id, op: "block",
//   buf, ends, hashes } per block, each ends[i] the end of chunk i within buf, then { id, op: "end",
//   size } or { id, error }. (The whole file's hash is the main thread's: two SHA-256 passes over every
//   byte would make this thread the slower of the two.) At most `window` blocks are sent
//   ahead of the main thread's { id, op: "credit" } (one per block it is done with); { id, op: "cancel" }
//   stops the job.
import { closeSync, openSync, readSync } from "node:fs";
import { chunkFile } from "./chunker.ts";
import { WORKER_READY } from "./worker-calls.ts";

declare const self: Worker;

const block = new Uint8Array(1 << 20); // reused: warm memory, nothing kept

interface ChunkJob {
  credits: number;
  wake: (() => void) | null;
  cancelled: boolean;
}
const jobs = new Map<number, ChunkJob>();

self.onmessage = (
  e: MessageEvent<{ id: number; path?: string; op?: "chunk" | "credit" | "cancel"; window?: number }>,
) => {
  const { id, op } = e.data;
  if (op === "credit" || op === "cancel") {
    const job = jobs.get(id);
    if (!job) return;
    if (op === "credit") job.credits++;
    else job.cancelled = true;
    job.wake?.();
    return;
  }
  if (op === "chunk") {
    void chunkJob(id, e.data.path!, e.data.window ?? 3);
    return;
  }
  hashWhole(id, e.data.path!);
};

function hashWhole(id: number, path: string): void {
  try {
    const hasher = new Bun.CryptoHasher("sha256");
    let size = 0;
    const fd = openSync(path, "r");
    try {
      for (;;) {
        const n = readSync(fd, block, 0, block.length, null);
        if (n === 0) break;
        hasher.update(block.subarray(0, n));
        size += n;
      }
    } finally {
      closeSync(fd);
    }
    self.postMessage({ id, hash: hasher.digest("hex"), size });
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
}

async function chunkJob(id: number, path: string, window: number): Promise<void> {
  const job: ChunkJob = { credits: window, wake: null, cancelled: false };
  jobs.set(id, job);
  try {
    let size = 0;
    // chunkFile's chunks are views of its read blocks, one block each; a block is sent once the next
    // one has started (its unfinished last chunk has been copied over by then).
    let buf: ArrayBuffer | null = null;
    let ends: number[] = [];
    let hashes: string[] = [];
    const send = async () => {
      if (!buf) return;
      while (job.credits === 0 && !job.cancelled) await new Promise<void>((r) => (job.wake = r));
      job.wake = null;
      if (job.cancelled) return;
      job.credits--;
      self.postMessage({ id, op: "block", buf, ends, hashes }, [buf]);
      buf = null;
      ends = [];
      hashes = [];
    };
    for await (const c of chunkFile(path)) {
      if (job.cancelled) return;
      const b = c.data.buffer as ArrayBuffer;
      if (b !== buf) {
        await send();
        if (job.cancelled) return;
        buf = b;
      }
      size += c.data.length;
      ends.push(c.data.byteOffset + c.data.length);
      hashes.push(c.hash);
    }
    await send();
    if (!job.cancelled) self.postMessage({ id, op: "end", size });
  } catch (err) {
    if (!job.cancelled) self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  } finally {
    jobs.delete(id);
  }
}

self.postMessage(WORKER_READY); // only now is anything posted to this thread heard
