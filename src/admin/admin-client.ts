// Client side of the admin protocol: one command per connection (so it also talks to an original Go node),
// a trailing newline, the reply read until the server closes.
import net from "node:net";

export interface AdminRequestOptions {
  /** Whole request, connect included (default 10 s). */
  timeoutMs?: number;
  /** Cluster secret: the command is sent as `AUTH <secret> <command>`. */
  secret?: string | undefined;
  /** Replies larger than this are an error (default 64 MiB). */
  maxReplyBytes?: number;
}

/** A failed admin request; `code` is "ECONNREFUSED", "ETIMEDOUT", "EREPLYTOOLARGE" or the socket's code. */
export class AdminClientError extends Error {
  override name = "AdminClientError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Splits "host:port" / "[v6]:port" / ":port" (host defaults to 127.0.0.1). */
export function parseHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid address ${JSON.stringify(addr)}: expected host:port`);
  }
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The admin address the original derived for a raft address: same host, port + 1000 (8001 → 9001). */
export function adminAddressForRaft(raftAddr: string): string {
  const { host, port } = parseHostPort(raftAddr);
  if (port + 1000 > 65535)
    throw new Error(`no admin port for raft address ${raftAddr}: port + 1000 exceeds 65535`);
  return joinHostPort(host, port + 1000);
}

function withAuth(line: string, secret: string | undefined): string {
  return secret === undefined ? line : `AUTH ${secret} ${line}`;
}

function describe(err: NodeJS.ErrnoException, addr: string): AdminClientError {
  if (err.code === "ECONNREFUSED") {
    return new AdminClientError(
      `cannot connect to admin port ${addr}: connection refused (is the node running?)`,
      "ECONNREFUSED",
    );
  }
  return new AdminClientError(`admin request to ${addr} failed: ${err.message}`, err.code ?? "EUNKNOWN");
}

/**
 * Sends one command (a newline is appended) and resolves with the server's whole reply, e.g. "OK\n" or a
 * STATUS block. Rejects with AdminClientError on connection refused, timeout or an oversized reply.
 */
export function adminRequest(addr: string, line: string, opts: AdminRequestOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxReply = opts.maxReplyBytes ?? 64 * 1024 * 1024;
  const { host, port } = parseHostPort(addr);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const socket = net.connect({ host, port });
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size).toString("utf8"));
    };
    const timer = setTimeout(
      () =>
        settle(new AdminClientError(`admin request to ${addr} timed out after ${timeoutMs} ms`, "ETIMEDOUT")),
      timeoutMs,
    );
    socket.on("connect", () => socket.write(`${withAuth(line, opts.secret)}\n`));
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > maxReply) {
        settle(new AdminClientError(`admin reply from ${addr} exceeds ${maxReply} bytes`, "EREPLYTOOLARGE"));
      }
    });
    socket.on("end", () => settle(null));
    socket.on("close", () => settle(null));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // A reset after a complete reply (the server closed with our bytes unread) still counts as the reply.
      if (size > 0 && err.code === "ECONNRESET") settle(null);
      else settle(describe(err, addr));
    });
  });
}

/** A STATUS reply as a map; repeated `peer:` lines are collected in `peer`. */
export interface ParsedStatus {
  [key: string]: string | string[];
  peer: string[];
}

/** Parses a STATUS reply (`key: value` lines). Throws with the server's text for an `ERROR: ...` reply. */
export function parseStatus(text: string): ParsedStatus {
  if (text.startsWith("ERROR:")) throw new Error(text.trim());
  const out: ParsedStatus = { peer: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const i = line.indexOf(":");
    if (line.trim() === "" || i <= 0) continue;
    const key = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (key === "peer") out.peer.push(value);
    else out[key] = value;
  }
  return out;
}

export interface SubscribeOptions {
  secret?: string | undefined;
  /** Connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  onError?: (err: Error) => void;
  /** Called once when the stream ends, for whatever reason. */
  onClose?: () => void;
}

export interface Subscription {
  close(): void;
  /** Resolves when the connection is closed (by either side). */
  closed: Promise<void>;
}

/** Opens a SUBSCRIBE stream; `onEvent` gets every JSON line, the `{"type":"hello",...}` line first. */
export function subscribe(
  addr: string,
  onEvent: (event: Record<string, unknown>) => void,
  opts: SubscribeOptions = {},
): Subscription {
  const { host, port } = parseHostPort(addr);
  const socket = net.connect({ host, port });
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const timer = setTimeout(() => {
    opts.onError?.(
      new AdminClientError(
        `SUBSCRIBE to ${addr}: connect timed out after ${connectTimeoutMs} ms`,
        "ETIMEDOUT",
      ),
    );
    socket.destroy();
  }, connectTimeoutMs);
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("connect", () => {
    clearTimeout(timer);
    socket.write(`${withAuth("SUBSCRIBE", opts.secret)}\n`);
  });
  socket.on("data", (text: string) => {
    buffered += text;
    let nl = buffered.indexOf("\n");
    while (nl !== -1) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      if (line === "") continue;
      if (line.startsWith("ERROR:")) {
        opts.onError?.(new Error(line));
        continue;
      }
      try {
        onEvent(JSON.parse(line) as Record<string, unknown>);
      } catch (e) {
        opts.onError?.(e instanceof Error ? e : new Error(String(e)));
      }
    }
  });
  socket.on("error", (err: NodeJS.ErrnoException) => opts.onError?.(describe(err, addr)));
  const closed = new Promise<void>((resolve) => {
    socket.once("close", () => {
      clearTimeout(timer);
      opts.onClose?.();
      resolve();
    });
  });
  return { close: () => socket.destroy(), closed };
}
