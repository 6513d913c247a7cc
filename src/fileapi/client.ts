// TypeScript client of the file API, used by the CLI and the tests. One client = one connection;
// requests may be issued concurrently on it (they are pipelined and answered in order).
import net from "node:net";
import { type ErrorCode, FileApiError, isErrorCode } from "./errors.ts";
import { decodeToken, encodeToken, type FileInfo, parseInfo, parseReplyLine } from "./wire.ts";

export type OpenMode = "r" | "w" | "a" | "rw";

export interface OpenResult {
  handle: number;
  /** Size of the content the handle starts with (0 for w). */
  size: number;
  /** Version (raft index) the handle is based on; 0 when the file did not exist. */
  version: number;
}

/** What a commit (CLOSE or FSYNC of a writable handle) made. */
export interface CommitInfo {
  size: number;
  hash: string;
  version: number;
}

export interface ReadOptions {
  /** Serve from this node's state without the ReadIndex barrier (fast, possibly stale). */
  stale?: boolean;
}

export interface ClientOptions {
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
}

/** Bytes per WRITE when streaming a file, and how many WRITEs are in flight at once. */
const PUT_PIECE = 1024 * 1024;
const PUT_WINDOW = 4;

interface Pending {
  /** The reply's first token is the length of a payload that follows. */
  payload: boolean;
  resolve: (r: { tokens: string[]; payload?: Uint8Array }) => void;
  reject: (e: Error) => void;
}

export class FileApiClient {
  private readonly pending: Pending[] = [];
  private parts: Buffer[] = [];
  private partBytes = 0;
  private payloadFor: { p: Pending; tokens: string[]; buf: Uint8Array; filled: number } | null = null;
  private closedError: FileApiError | null = null;
  /** The highest handle the server has given this connection (it numbers them 1, 2, 3…). */
  private lastHandle = 0;
  /** OPENs sent and not answered yet. */
  private opensInFlight = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", (e) => this.fail(new FileApiError("ECONNRESET", `connection failed: ${e.message}`)));
    socket.on("close", () => this.fail(new FileApiError("ECONNRESET", "connection closed by the server")));
  }

  /** Connects to "host:port" (or a port on 127.0.0.1). */
  static connect(address: string | number, opts: ClientOptions = {}): Promise<FileApiClient> {
    const { host, port } = parseAddress(address);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new FileApiError("ECONNRESET", `connect to ${host}:${port} timed out`));
      }, opts.connectTimeoutMs ?? 10_000);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new FileApiClient(socket));
      });
      socket.once("error", (e) => {
        clearTimeout(timer);
        reject(new FileApiError("ECONNRESET", `cannot connect to ${host}:${port}: ${e.message}`));
      });
    });
  }

  // -------------------------------------------------------------------------------------------- verbs

  async ping(): Promise<void> {
    await this.request("PING");
  }

  async info(): Promise<{
    nodeId: string;
    role: string;
    leader: string | null;
    term: number;
    commit: number;
    applied: number;
  }> {
    const [nodeId = "", role = "", leader = "-", term, commit, applied] = (await this.request("INFO")).tokens;
    return {
      nodeId,
      role,
      leader: leader === "-" ? null : leader,
      term: Number(term),
      commit: Number(commit),
      applied: Number(applied),
    };
  }

  async open(path: string, mode: OpenMode, opts: ReadOptions = {}): Promise<OpenResult> {
    this.opensInFlight++;
    try {
      const t = (await this.request(`OPEN ${encodeToken(path)} ${mode}${opts.stale ? " stale" : ""}`)).tokens;
      const handle = Number(t[0]);
      if (handle > this.lastHandle) this.lastHandle = handle;
      return { handle, size: Number(t[1]), version: Number(t[2]) };
    } finally {
      this.opensInFlight--;
    }
  }

  async read(handle: number, offset: number, length: number): Promise<Uint8Array> {
    return (
      (await this.request(`READ ${handle} ${offset} ${length}`, undefined, true)).payload ?? new Uint8Array(0)
    );
  }

  async write(handle: number, offset: number, data: Uint8Array): Promise<number> {
    return Number((await this.request(`WRITE ${handle} ${offset} ${data.length}`, data)).tokens[0]);
  }

  /** Commits the handle's content without closing it. */
  async fsync(handle: number): Promise<CommitInfo> {
    return commitInfo((await this.request(`FSYNC ${handle}`)).tokens);
  }

  /** Closes a handle; for a writable one this commits and resolves only once the version is committed.
   * Rejects with code ECONFLICT (and .conflictPath) when another writer replaced the file since OPEN. */
  async close(handle: number): Promise<CommitInfo | null> {
    const t = (await this.request(`CLOSE ${handle}`)).tokens;
    return t.length >= 3 ? commitInfo(t) : null;
  }

  /** Discards a handle's uncommitted writes. */
  async abort(handle: number): Promise<void> {
    await this.request(`ABORT ${handle}`);
  }

  async stat(path: string, opts: ReadOptions = {}): Promise<FileInfo> {
    return parseInfo((await this.request(`STAT ${encodeToken(path)}${opts.stale ? " stale" : ""}`)).tokens);
  }

  async list(
    dir = "",
    opts: ReadOptions & { recursive?: boolean } = {},
  ): Promise<{ entries: FileInfo[]; truncated: boolean }> {
    const words = ["LIST", dir ? encodeToken(dir) : "/"];
    if (opts.recursive) words.push("recursive");
    if (opts.stale) words.push("stale");
    const r = await this.request(words.join(" "), undefined, true);
    const text = new TextDecoder().decode(r.payload ?? new Uint8Array(0));
    const entries = text
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => parseInfo(l.split(" ")));
    return { entries, truncated: r.tokens[2] === "more" };
  }

  async delete(path: string): Promise<void> {
    await this.request(`DELETE ${encodeToken(path)}`);
  }

  async rename(from: string, to: string): Promise<CommitInfo> {
    return commitInfo((await this.request(`RENAME ${encodeToken(from)} ${encodeToken(to)}`)).tokens);
  }

  async mkdir(path: string): Promise<void> {
    await this.request(`MKDIR ${encodeToken(path)}`);
  }

  /** Says goodbye and closes the connection. */
  async quit(): Promise<void> {
    if (this.closedError) return;
    await this.request("QUIT").catch(() => {});
    this.socket.end();
  }

  /** Closes the connection at once (uncommitted handles are discarded by the server). */
  destroy(): void {
    this.socket.destroy();
  }

  // ----------------------------------------------------------------------------------------- streaming

  /** Writes a whole file (create or replace) from bytes or a stream; resolves once committed. */
  async putFile(
    path: string,
    content: Uint8Array | AsyncIterable<Uint8Array>,
    opts: { mode?: "w" | "a" } = {},
  ): Promise<CommitInfo> {
    const mode = opts.mode ?? "w";
    if (content instanceof Uint8Array && content.length <= PUT_PIECE && this.opensInFlight === 0)
      return this.putSmall(path, content, mode);
    const { handle } = await this.open(path, mode);
    return this.fill(handle, content);
  }

  /**
   * A small file in one round trip: OPEN, WRITE and CLOSE go out together. The server numbers a
   * connection's handles 1, 2, 3… in the order of successful OPENs, and no other OPEN is in flight here,
   * so the handle is known before the reply. The server runs a connection's requests in order and never
   * commits a handle one of whose WRITEs failed, so a failure anywhere stops the commit. Should the
   * guess be wrong all the same (a server numbering otherwise), no handle has the guessed number yet:
   * WRITE and CLOSE fail with EBADF having done nothing, and the file goes the usual way.
   */
  private async putSmall(path: string, content: Uint8Array, mode: "w" | "a"): Promise<CommitInfo> {
    const guess = this.lastHandle + 1;
    const opened = this.open(path, mode);
    const wrote = content.length > 0 ? this.write(guess, 0, content) : Promise.resolve(0);
    const closed = this.close(guess);
    const [o, w, c] = await Promise.allSettled([opened, wrote, closed]);
    if (o.status === "rejected") throw o.reason;
    if (o.value.handle !== guess) return this.fill(o.value.handle, content);
    if (w.status === "rejected") throw w.reason; // (the CLOSE behind it discarded the handle)
    if (c.status === "rejected") throw c.reason;
    return c.value!;
  }

  /** Writes `content` through the writable `handle` and commits it; on a failed WRITE the handle is
   * aborted. */
  private async fill(handle: number, content: Uint8Array | AsyncIterable<Uint8Array>): Promise<CommitInfo> {
    try {
      if (content instanceof Uint8Array) {
        for (let off = 0; off < content.length; off += PUT_PIECE) {
          await this.write(handle, off, content.subarray(off, Math.min(content.length, off + PUT_PIECE)));
        }
      } else {
        const inflight = new Set<Promise<number>>();
        let off = 0;
        for await (const piece of rechunk(content, PUT_PIECE)) {
          const p = this.write(handle, off, piece);
          off += piece.length;
          inflight.add(p);
          void p.finally(() => inflight.delete(p)).catch(() => {});
          if (inflight.size >= PUT_WINDOW) await Promise.race(inflight);
        }
        await Promise.all(inflight);
      }
    } catch (e) {
      await this.abort(handle).catch(() => {});
      throw e;
    }
    return (await this.close(handle))!;
  }

  /** Streams a file's content (one consistent version) in pieces of `pieceSize` bytes. */
  async *getFile(path: string, opts: ReadOptions & { pieceSize?: number } = {}): AsyncGenerator<Uint8Array> {
    const piece = opts.pieceSize ?? PUT_PIECE;
    const { handle, size } = await this.open(path, "r", opts);
    try {
      // Two reads in flight hide the round trip.
      let next: Promise<Uint8Array> | null = size > 0 ? this.read(handle, 0, piece) : null;
      for (let off = 0; off < size; off += piece) {
        const cur = await next!;
        next = off + piece < size ? this.read(handle, off + piece, piece) : null;
        if (cur.length === 0) break;
        yield cur;
      }
    } finally {
      await this.close(handle).catch(() => {});
    }
  }

  /** A whole (small) file in memory. */
  async readFile(path: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const p of this.getFile(path, opts)) parts.push(p);
    return Buffer.concat(parts);
  }

  // ------------------------------------------------------------------------------------------ plumbing

  private request(
    line: string,
    data?: Uint8Array,
    payload = false,
  ): Promise<{ tokens: string[]; payload?: Uint8Array }> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.push({ payload, resolve, reject });
      const head = Buffer.from(`${line}\n`);
      if (!data || data.length === 0) this.socket.write(head);
      else if (data.length < 64 * 1024) this.socket.write(Buffer.concat([head, data]));
      else {
        this.socket.write(head);
        this.socket.write(data);
      }
    });
  }

  private onData(d: Buffer): void {
    let off = 0;
    while (off < d.length) {
      const pf = this.payloadFor;
      if (pf) {
        const take = Math.min(pf.buf.length - pf.filled, d.length - off);
        pf.buf.set(d.subarray(off, off + take), pf.filled);
        pf.filled += take;
        off += take;
        if (pf.filled === pf.buf.length) {
          this.payloadFor = null;
          pf.p.resolve({ tokens: pf.tokens, payload: pf.buf });
        }
        continue;
      }
      const nl = d.indexOf(10, off);
      if (nl < 0) {
        this.parts.push(d.subarray(off));
        this.partBytes += d.length - off;
        if (this.partBytes > 1 << 20) this.fail(new FileApiError("EPROTO", "reply line too long"));
        return;
      }
      const lineBuf =
        this.parts.length > 0 ? Buffer.concat([...this.parts, d.subarray(off, nl)]) : d.subarray(off, nl);
      this.parts = [];
      this.partBytes = 0;
      off = nl + 1;
      this.onLine(lineBuf.toString("utf8"));
    }
  }

  private onLine(line: string): void {
    const r = parseReplyLine(line);
    const p = this.pending.shift();
    if (!p) {
      // An unsolicited error line: the server is closing (idle timeout, limit).
      if (!r.ok) this.closedError = toError(r.code, r.message);
      return;
    }
    if (!r.ok) {
      p.reject(toError(r.code, r.message));
      return;
    }
    if (!p.payload) {
      p.resolve({ tokens: r.tokens });
      return;
    }
    const n = Number(r.tokens[0]);
    if (!Number.isSafeInteger(n) || n < 0) {
      p.reject(new FileApiError("EPROTO", `bad payload length in ${JSON.stringify(line)}`));
      return;
    }
    if (n === 0) p.resolve({ tokens: r.tokens, payload: new Uint8Array(0) });
    else this.payloadFor = { p, tokens: r.tokens, buf: new Uint8Array(n), filled: 0 };
  }

  private fail(e: FileApiError): void {
    if (!this.closedError) this.closedError = e;
    const all = this.pending.splice(0);
    if (this.payloadFor) {
      all.unshift(this.payloadFor.p);
      this.payloadFor = null;
    }
    for (const p of all) p.reject(this.closedError);
  }
}

function toError(code: string, message: string): FileApiError {
  const c: ErrorCode = isErrorCode(code) ? code : "EPROTO";
  if (c === "ECONFLICT") {
    const sp = message.indexOf(" ");
    const token = sp < 0 ? message : message.slice(0, sp);
    let conflictPath: string | undefined;
    try {
      conflictPath = token.includes(".sync-conflict-") ? decodeToken(token) : undefined;
    } catch {
      conflictPath = undefined;
    }
    return new FileApiError(c, message, conflictPath);
  }
  return new FileApiError(c, message);
}

function commitInfo(t: string[]): CommitInfo {
  return { size: Number(t[0]), hash: t[1] === "-" ? "" : (t[1] ?? ""), version: Number(t[2]) };
}

function parseAddress(a: string | number): { host: string; port: number } {
  if (typeof a === "number") return { host: "127.0.0.1", port: a };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(a.trim());
  if (!m) {
    if (/^\d+$/.test(a.trim())) return { host: "127.0.0.1", port: Number(a) };
    throw new FileApiError("EINVAL", `address ${JSON.stringify(a)} is not host:port`);
  }
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** Re-cuts a stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* rechunk(src: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(size);
  let fill = 0;
  for await (const chunk of src) {
    if (fill === 0 && chunk.length === size) {
      yield chunk; // already the right size: no copy
      continue;
    }
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(size - fill, chunk.length - off);
      buf.set(chunk.subarray(off, off + take), fill);
      fill += take;
      off += take;
      if (fill === size) {
        yield buf;
        buf = new Uint8Array(size);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}
