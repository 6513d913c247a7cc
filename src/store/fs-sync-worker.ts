// Worker thread of FileSystemSyncer: syncfs(2) of the file system a directory is on, off the node's
// main thread (the call blocks until everything dirty there is on disk). bun:ffi, since node:fs has no
// syncfs. Messages in: { id, dir }; out: { id } or { id, error }; first WORKER_READY.
import { dlopen, FFIType, type Pointer, read } from "bun:ffi";
import { constants, openSync } from "node:fs";
import { WORKER_READY } from "./worker-calls.ts";

declare const self: Worker;

const { symbols } = dlopen("libc.so.6", {
  syncfs: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

/** One descriptor per directory, kept open: syncfs reports the write-back errors that happened since
 * the descriptor was opened, so a long-lived one misses none. */
const dirs = new Map<string, number>();

self.onmessage = (e: MessageEvent<{ id: number; dir: string }>) => {
  const { id, dir } = e.data;
  try {
    let fd = dirs.get(dir);
    if (fd === undefined) {
      fd = openSync(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
      dirs.set(dir, fd);
    }
    if (symbols.syncfs(fd) !== 0) {
      const errno = read.i32(symbols.__errno_location() as Pointer, 0);
      throw new Error(`syncfs failed (errno ${errno})`);
    }
    self.postMessage({ id });
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};

self.postMessage(WORKER_READY); // only now is anything posted to this thread heard
