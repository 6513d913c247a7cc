import { close, fsync, open, read, write } from "node:fs";

// Promise wrappers over numeric file descriptors. Used instead of fs/promises FileHandle because Bun
// throws (an uncaught error) when a FileHandle is garbage-collected unclosed; a numeric fd that a
// caller abandons is closed quietly by the finalizer registered in openFd.

const abandoned = new FinalizationRegistry<number>((fd) => {
  close(fd, () => {});
});

/** An open file descriptor; close() it, or it is closed when this object is garbage-collected. */
export class Fd {
  private closed = false;

  constructor(readonly fd: number) {
    abandoned.register(this, fd, this);
  }

  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      read(this.fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      write(this.fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  /** Write all of `buf` at `position`. */
  async writeAll(buf: Uint8Array, position: number): Promise<void> {
    let off = 0;
    while (off < buf.byteLength) off += await this.write(buf, off, buf.byteLength - off, position + off);
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fsync(this.fd, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Idempotent. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    abandoned.unregister(this);
    return new Promise((resolve, reject) => {
      close(this.fd, (err) => (err ? reject(err) : resolve()));
    });
  }
}

export function openFd(path: string, flags: "r" | "w"): Promise<Fd> {
  return new Promise((resolve, reject) => {
    open(path, flags, 0o644, (err, fd) => (err ? reject(err) : resolve(new Fd(fd))));
  });
}

/** fsync a file or directory by path (a directory's fsync makes its entries' creation/rename durable). */
export async function fsyncPath(path: string): Promise<void> {
  const fd = await openFd(path, "r");
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}
