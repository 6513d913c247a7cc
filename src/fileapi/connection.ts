// Framing of one client connection: splits the byte stream into requests (a line, plus WRITE's payload),
// runs them one at a time through the Session, writes replies in order, and applies back-pressure both
// ways (stops reading while requests pile up, waits for the socket to drain after big replies).
import type net from "node:net";
import { FileApiError, toFileApiError } from "./errors.ts";
import type { FileApiLimits } from "./limits.ts";
import type { Request, Session } from "./session.ts";
import { errLine, parseCount, parseRequestLine } from "./wire.ts";

/** A request, or an error to send in its place (keeps replies in request order); `refusedWrite`: the
 * handle of a WRITE refused here, which the session must then never commit. */
type Queued =
  | { req: Request; bytes: number }
  | { error: FileApiError; close: boolean; bytes: number; refusedWrite?: number };

type ReadState =
  | { t: "line" }
  | { t: "payload"; req: Request; buf: Uint8Array; filled: number }
  | { t: "discard"; remaining: number };

export class Connection {
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  private state: ReadState = { t: "line" };
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private busy = false;
  private ended = false;
  private paused = false;
  private readonly highWater: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly session: Session,
    private readonly limits: FileApiLimits,
    private readonly onClosed: () => void,
  ) {
    this.highWater = limits.maxWriteBytes + 1024 * 1024;
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("timeout", () => this.onIdle());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      this.ended = true;
      void this.session.dispose().finally(this.onClosed);
    });
  }

  /** Refuse a connection over the limit: one error line, then close. */
  static refuse(socket: net.Socket, error: FileApiError): void {
    socket.on("error", () => socket.destroy());
    socket.end(errLine(error.code, error.message));
  }

  private onData(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.ended) {
      const st = this.state;
      if (st.t === "line") {
        const nl = chunk.indexOf(10, off);
        if (nl < 0) {
          this.lineParts.push(chunk.subarray(off));
          this.lineBytes += chunk.length - off;
          if (this.lineBytes > this.limits.maxLineBytes) this.fatal(tooLong(this.limits.maxLineBytes));
          break;
        }
        const part = chunk.subarray(off, nl);
        this.lineBytes += part.length;
        off = nl + 1;
        if (this.lineBytes > this.limits.maxLineBytes) {
          this.fatal(tooLong(this.limits.maxLineBytes));
          break;
        }
        const line = this.lineParts.length === 0 ? part : Buffer.concat([...this.lineParts, part]);
        this.lineParts = [];
        this.lineBytes = 0;
        this.onLine(line.toString("utf8"));
      } else if (st.t === "payload") {
        const take = Math.min(st.buf.length - st.filled, chunk.length - off);
        st.buf.set(chunk.subarray(off, off + take), st.filled);
        st.filled += take;
        off += take;
        if (st.filled === st.buf.length) {
          this.state = { t: "line" };
          this.enqueue({ req: st.req, bytes: st.buf.length });
        }
      } else {
        const take = Math.min(st.remaining, chunk.length - off);
        st.remaining -= take;
        off += take;
        if (st.remaining === 0) this.state = { t: "line" };
      }
    }
    if (this.queuedBytes > this.highWater || this.queue.length > 256) {
      this.paused = true;
      this.socket.pause();
    }
    void this.pump();
  }

  private onLine(line: string): void {
    const { verb, args } = parseRequestLine(line);
    if (verb !== "WRITE") {
      this.enqueue({ req: { verb, args }, bytes: line.length });
      return;
    }
    let length: number;
    try {
      if (args.length !== 3) throw new FileApiError("EINVAL", "usage: WRITE <handle> <offset> <length>");
      length = parseCount(args[2], "length");
    } catch (e) {
      // Without a length the payload's end is unknown: the stream cannot be resynchronised.
      this.fatal(e instanceof FileApiError ? e : new FileApiError("EINVAL", String(e)));
      return;
    }
    if (length > this.limits.maxWriteBytes) {
      this.enqueue({
        error: new FileApiError(
          "ETOOBIG",
          `WRITE of ${length} bytes is over the ${this.limits.maxWriteBytes}-byte limit`,
        ),
        close: false,
        bytes: 0,
        refusedWrite: handleOf(args[0]),
      });
      this.state = length > 0 ? { t: "discard", remaining: length } : { t: "line" };
      return;
    }
    const req: Request = { verb, args, payload: new Uint8Array(length) };
    if (length === 0) this.enqueue({ req, bytes: 0 });
    else this.state = { t: "payload", req, buf: req.payload!, filled: 0 };
  }

  /** A framing error: answer it after what is queued, then close. */
  private fatal(error: FileApiError): void {
    this.enqueue({ error, close: true, bytes: 0 });
    this.lineParts = [];
    this.lineBytes = 0;
    this.state = { t: "discard", remaining: Number.POSITIVE_INFINITY };
  }

  private enqueue(q: Queued): void {
    this.queue.push(q);
    this.queuedBytes += q.bytes;
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.ended) {
        const q = this.queue.shift()!;
        this.queuedBytes -= q.bytes;
        if (this.paused && this.queuedBytes <= this.highWater / 2 && this.queue.length < 128) {
          this.paused = false;
          this.socket.resume();
        }
        if ("error" in q) {
          if (q.refusedWrite !== undefined) this.session.writeRefused(q.refusedWrite, q.error);
          this.send(errLine(q.error.code, q.error.message));
          if (q.close) {
            this.close();
            return;
          }
          continue;
        }
        let close = false;
        try {
          const reply = await this.session.handle(q.req);
          if (this.ended) return;
          const more = this.send(reply.line, reply.payload);
          close = reply.close === true;
          if (!more && !close) await this.drained();
        } catch (e) {
          const err = toFileApiError(e);
          if (!this.ended) this.send(errLine(err.code, err.message));
        }
        if (close) {
          this.close();
          return;
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private send(line: Uint8Array, payload?: Uint8Array): boolean {
    if (this.ended || this.socket.destroyed) return true;
    if (!payload || payload.length === 0) return this.socket.write(line);
    if (payload.length < 64 * 1024) return this.socket.write(Buffer.concat([line, payload]));
    this.socket.write(line);
    return this.socket.write(payload);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ended || this.socket.destroyed || !this.socket.writableNeedDrain) return resolve();
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  private onIdle(): void {
    if (this.busy || this.queue.length > 0 || this.state.t !== "line" || this.lineBytes > 0) return;
    this.send(errLine("ETIMEDOUT", `idle for ${this.limits.idleTimeoutMs} ms; closing`));
    this.close();
  }

  private close(): void {
    this.ended = true;
    this.socket.end();
    // A peer that never reads must not keep the socket (and its buffers) forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

function tooLong(limit: number): FileApiError {
  return new FileApiError("ETOOBIG", `request line longer than ${limit} bytes`);
}

/** The handle a WRITE names, when it is a valid number. */
function handleOf(token: string | undefined): number | undefined {
  try {
    return parseCount(token, "handle");
  } catch {
    return undefined;
  }
}
