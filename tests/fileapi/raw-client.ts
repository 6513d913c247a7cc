// A bare socket speaking the wire format by hand, for tests that check bytes rather than the client library.
import net from "node:net";

export class RawConnection {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static connect(address: string): Promise<RawConnection> {
    const [host, port] = address.split(":");
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: host!, port: Number(port) }, () => resolve(new RawConnection(s)));
      s.once("error", reject);
    });
  }

  send(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** The next reply line (without LF); "" if the connection closed first. */
  async line(timeoutMs = 10_000): Promise<string> {
    const nl = await this.until(
      () => this.buf.indexOf(10),
      (i) => i >= 0,
      timeoutMs,
    );
    if (nl < 0) return "";
    const line = this.buf.subarray(0, nl).toString("utf8");
    this.buf = this.buf.subarray(nl + 1);
    return line;
  }

  async bytes(n: number, timeoutMs = 10_000): Promise<Buffer> {
    await this.until(
      () => this.buf.length,
      (l) => l >= n,
      timeoutMs,
    );
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Resolves once the server closed the connection. */
  async closedByServer(timeoutMs = 10_000): Promise<boolean> {
    await this.until(
      () => this.closed,
      (c) => c,
      timeoutMs,
    );
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async until<T>(get: () => T, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = get();
      if (ok(v) || this.closed) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for the server");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
