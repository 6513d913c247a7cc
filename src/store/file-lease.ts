// Linux file leases (fcntl F_SETLEASE), through libc with bun:ffi: node:fs has no fcntl.
//
// - A write lease on a descriptor succeeds only while no other open file description of the file
//   exists (no reader, no writer, in any process), and while it is held, anyone else's open() of the
//   file waits until it is released. So a short in-place update under a write lease is seen whole by
//   every other process, and never races another writer.
// - A read lease fails (EAGAIN) while anyone has the file open for writing: a cheap "is a writer still
//   at work on this file?" for files that look complete by size and time (fallocate, then one write).
//
// Leases need the file's owner (or CAP_LEASE) and a local file system; anywhere they are not available
// the functions answer so (false / null) and callers take their ordinary path. The kernel tells a lease
// holder about a waiting opener with SIGIO, whose default action ends the process: a lease is only
// ever taken once a SIGIO handler is installed, and held for milliseconds, never across an await.
import { dlopen, FFIType, type Pointer, read } from "bun:ffi";
import { closeSync, constants, openSync } from "node:fs";

const F_SETLEASE = 1024;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
const EAGAIN = 11;

interface Libc {
  fcntl: (fd: number, cmd: number, arg: number) => number;
  errno: () => number;
}

let libc: Libc | null | undefined;

function lib(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return null;
  try {
    const { symbols } = dlopen("libc.so.6", {
      fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    // A lease break notifies the holder with SIGIO; without a handler it would end the process.
    process.on("SIGIO", () => {});
    libc = {
      fcntl: (fd, cmd, arg) => symbols.fcntl(fd, cmd, arg) as number,
      errno: () => read.i32(symbols.__errno_location() as Pointer, 0),
    };
  } catch {
    libc = null; // not glibc, or no bun:ffi: leases are simply not used
  }
  return libc;
}

/** Whether leases can be used at all here (Linux with glibc). */
export function leasesAvailable(): boolean {
  return lib() !== null;
}

/**
 * Takes a write lease on `fd` (opened for writing by this process): true when granted, which also
 * proves nobody else has the file open. Release it with releaseLease before any await.
 */
export function tryWriteLease(fd: number): boolean {
  const l = lib();
  return l !== null && l.fcntl(fd, F_SETLEASE, F_WRLCK) === 0;
}

export function releaseLease(fd: number): void {
  lib()?.fcntl(fd, F_SETLEASE, F_UNLCK);
}

/**
 * Whether some process (this one included) has the file at `abs` open for writing right now: true,
 * false, or null when that cannot be told here (no leases, not the file's owner, not a local file
 * system, or the file is gone).
 */
export function openForWriting(abs: string): boolean | null {
  const l = lib();
  if (l === null) return null;
  let fd: number;
  try {
    // Non-blocking: an open of a file someone holds a write lease on would otherwise wait for it.
    fd = openSync(abs, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    if (l.fcntl(fd, F_SETLEASE, F_RDLCK) === 0) {
      l.fcntl(fd, F_SETLEASE, F_UNLCK);
      return false;
    }
    return l.errno() === EAGAIN ? true : null;
  } finally {
    closeSync(fd);
  }
}
