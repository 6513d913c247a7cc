// Worker thread of FileHasher: SHA-256 of whole files, read in blocks, off the node's main thread.
// Messages in: { id, path }; out: { id, hash, size } or { id, error }.
import { closeSync, openSync, readSync } from "node:fs";

declare const self: Worker;

const block = new Uint8Array(1 << 20); // reused: warm memory, nothing kept

self.onmessage = (e: MessageEvent<{ id: number; path: string }>) => {
  const { id, path } = e.data;
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
};
