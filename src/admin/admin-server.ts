/*
 * Admin TCP server, wire-compatible with the original Go Pickbox (reference/pickbox-compat.md §3).
 *
 * One command per connection. The server reads one command, writes its reply and closes:
 *   - a command ends at the first "\n" (or "\r\n"); the newline is optional: a command sent without one (the
 *     original Go clients write one segment and wait) is answered once it is complete and ~15 ms pass with
 *     no more bytes, or at once when the client half-closes; a FORWARD ends as soon as its JSON is complete;
 *   - limits: 64 MiB per FORWARD, 64 KiB per other command (`ERROR: command too large (limit N bytes)`),
 *     10 s idle (`ERROR: timeout waiting for command`), a total read deadline, a timeout on every handler
 *     call, a cap on concurrent connections (`ERROR: too many connections`) and on the bytes all unfinished
 *     commands hold together (`ERROR: server busy: ...`).
 * Replies are one line `<text>\n` — `OK` or `ERROR: <message>` — except STATUS/PEERS/FILES (several lines,
 * then close) and SUBSCRIBE (JSON lines until the client disconnects).
 *
 * Commands (word case-sensitive, matched exactly; the original matched prefixes, so `ADD_VOTERX a b` was an
 * ADD_VOTER there and is `ERROR: Unknown command` here; `FORWARD{...}` without a space still works):
 *   ADD_VOTER <id> <addr>   → OK | ERROR: Invalid ADD_VOTER command format. Usage: ADD_VOTER <nodeID> <address>
 *                             | ERROR: <message>            (e.g. ERROR: node is not the leader)
 *   ADD_LEARNER <id> <addr> → OK | ERROR: ...
 *   REMOVE <id>             → OK | ERROR: ...
 *   TRANSFER [<id>]         → OK <new leader id> | ERROR: ...
 *   FORWARD <json>          → OK once applied | ERROR: Not leader | ERROR: Invalid FORWARD command format
 *                             | ERROR: invalid FORWARD ... | ERROR: invalid path: ... | ERROR: <message>
 *   STATUS                  → `key: value` lines (see admin-status.ts formatStatus)
 *   STATUS_JSON             → one JSON line
 *   CLUSTER_JSON            → one JSON line {"members":[...]}: every member's own status, asked by this node
 *   PEERS                   → one `<id> <addr> <voter|learner> match=.. lag=.. last_contact=..ms` line per member
 *   FILES [prefix]          → `path<TAB>size<TAB>hash12<TAB>mode` per file
 *   SUBSCRIBE               → {"type":"hello",...} then one JSON event per line; slow readers lose events
 *                             (a {"type":"dropped","count":n} line says how many), never buffer without bound
 *   anything else           → ERROR: Unknown command;  empty → ERROR: empty command
 *
 * Cluster secret: when the node has one, the mutating commands (ADD_VOTER, ADD_LEARNER, REMOVE, TRANSFER,
 * FORWARD) must be prefixed with `AUTH <secret> `, e.g.
 *     AUTH s3cret ADD_VOTER node4 127.0.0.1:8004
 * and are refused otherwise with `ERROR: authentication required` (wrong secret: `ERROR: authentication
 * failed`). Read-only commands need no AUTH; if they carry one it must be right. The secret is one token
 * (no whitespace) and is compared in constant time. Without a configured secret an AUTH prefix is ignored.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import net from "node:net";
import { normalizeRelPath } from "../store/paths.ts";
import type { AdminHandler } from "./admin-handler.ts";
import { formatFiles, formatPeers, formatStatus, oneLine, statusJson } from "./admin-status.ts";
import { CommandFramer } from "./command-framer.ts";
import { AuthFormatError, COMMANDS, isCompleteLine, parseCommand } from "./command-syntax.ts";
import { ForwardFormatError, parseForwardJson } from "./legacy-forward.ts";

export interface AdminServerOptions {
  handler: AdminHandler;
  /** Interface to bind; 127.0.0.1 by default (the admin port is not meant for the network). */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Cluster secret; mutating commands must carry `AUTH <secret>`. */
  secret?: string | undefined;
  /** Largest FORWARD command in bytes (default 64 MiB). */
  maxCommandBytes?: number;
  /** Largest other command in bytes (default 64 KiB). */
  maxLineBytes?: number;
  /** A connection that sends nothing for this long while its command is incomplete is answered with a
   * timeout error and closed (default 10 s). */
  idleTimeoutMs?: number;
  /** Upper bound on receiving one whole command, however it trickles in (default 120 s). */
  readDeadlineMs?: number;
  /** Quiet period after which a complete command without newline is executed (default 15 ms). */
  quietMs?: number;
  /** Longest wait for a handler call before replying with an ERROR (default 30 s). */
  commandTimeoutMs?: number;
  /** Concurrent connections, subscribers included (default 1024). */
  maxConnections?: number;
  /** Bytes queued for a SUBSCRIBE client beyond which events are dropped for it (default 1 MiB). */
  maxSubscriberBufferBytes?: number;
  /** Bytes all connections together may hold while reading commands (default 256 MiB); beyond it a
   * connection is refused with `ERROR: server busy ...`, so many large uploads cannot exhaust memory. */
  maxPendingBytes?: number;
  /** Server-level errors after listen (e.g. EMFILE on accept); ignored when not given. */
  onError?: (err: Error) => void;
  /** After the reply, how long to keep swallowing bytes the client still sends before closing (default 2 s). */
  lingerMs?: number;
  /** Early path check for FORWARD: returns the canonical path or throws (default normalizeRelPath). The
   * handler/FSM still confines paths; this keeps hostile ones out of the handler altogether. */
  checkPath?: (path: string) => string;
}

export interface AdminServerStats {
  connections: number;
  subscribers: number;
  /** Events not delivered to slow subscribers since the server started. */
  droppedEvents: number;
  /** Bytes held by connections still reading their command. */
  pendingBytes: number;
}

const MiB = 1024 * 1024;

export class AdminServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private subscriberCount = 0;
  /** Bytes held by connections still reading their command. */
  private pendingBytes = 0;
  private droppedEvents = 0;
  private readonly secretDigest: Buffer | null;
  private boundAddress = "";
  private readonly o: Required<Omit<AdminServerOptions, "secret">>;

  constructor(options: AdminServerOptions) {
    const secret = options.secret;
    if (secret !== undefined && (secret === "" || /\s/.test(secret))) {
      throw new Error(
        "cluster secret must be non-empty and contain no whitespace (admin clients send it as one token: AUTH <secret> <command>)",
      );
    }
    this.secretDigest = secret === undefined ? null : digest(secret);
    this.o = {
      handler: options.handler,
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      maxCommandBytes: options.maxCommandBytes ?? 64 * MiB,
      maxLineBytes: options.maxLineBytes ?? 64 * 1024,
      idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
      readDeadlineMs: options.readDeadlineMs ?? 120_000,
      quietMs: options.quietMs ?? 15,
      commandTimeoutMs: options.commandTimeoutMs ?? 30_000,
      maxConnections: options.maxConnections ?? 1024,
      maxSubscriberBufferBytes: options.maxSubscriberBufferBytes ?? MiB,
      lingerMs: options.lingerMs ?? 2000,
      maxPendingBytes: options.maxPendingBytes ?? 256 * MiB,
      onError: options.onError ?? (() => {}),
      checkPath: options.checkPath ?? normalizeRelPath,
    };
    // allowHalfOpen: a client may shut down its side after the command (`nc -N`) and still get the reply.
    this.server = net.createServer({ allowHalfOpen: true }, (s) => this.onConnection(s));
  }

  /** Starts listening; resolves with the bound "host:port". */
  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once("error", onError);
      // A deep backlog: a burst of joins/STATUS polls should queue, not wait for SYN retransmits.
      this.server.listen(this.o.port, this.o.host, 1024, () => {
        this.server.off("error", onError);
        // An accept failure must not crash the node (an 'error' without listener would throw).
        this.server.on("error", (err) => this.o.onError(err));
        const a = this.server.address() as net.AddressInfo;
        this.boundAddress = a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
        resolve(this.boundAddress);
      });
    });
  }

  /** "host:port" once listening. */
  get address(): string {
    return this.boundAddress;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo | null)?.port ?? 0;
  }

  stats(): AdminServerStats {
    return {
      connections: this.sockets.size,
      subscribers: this.subscriberCount,
      droppedEvents: this.droppedEvents,
      pendingBytes: this.pendingBytes,
    };
  }

  /** Stops listening and closes every connection (subscribers included). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) {
        for (const s of this.sockets) s.destroy();
        resolve();
        return;
      }
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private onConnection(socket: net.Socket): void {
    socket.on("error", () => {}); // resets and broken pipes are the client's business
    const overLimit = this.sockets.size >= this.o.maxConnections;
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    if (overLimit) {
      this.replyAndClose(socket, "ERROR: too many connections\n");
      return;
    }
    socket.setNoDelay(true);

    const framer = new CommandFramer({
      maxCommandBytes: this.o.maxCommandBytes,
      maxLineBytes: this.o.maxLineBytes,
    });
    let reading = true;
    let counted = 0; // this connection's share of pendingBytes
    let quiet: ReturnType<typeof setTimeout> | undefined;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const deadline = setTimeout(() => stop("ERROR: timeout waiting for command\n"), this.o.readDeadlineMs);
    /** Ends the reading phase: with a reply (an error), or with the command to execute. */
    const stop = (reply: string | null, command?: Buffer) => {
      if (!reading) return;
      reading = false;
      clearTimeout(quiet);
      clearTimeout(idle);
      clearTimeout(deadline);
      this.pendingBytes -= counted;
      counted = 0;
      if (reply !== null) this.replyAndClose(socket, reply);
      else if (command) void this.execute(socket, command);
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => stop("ERROR: timeout waiting for command\n"), this.o.idleTimeoutMs);
    };
    armIdle();
    socket.once("close", () => stop(null)); // gone before a command: nothing to run

    socket.on("data", (chunk: Buffer) => {
      if (!reading) return; // after the command: swallowed until we close
      counted += chunk.length;
      this.pendingBytes += chunk.length;
      if (this.pendingBytes > this.o.maxPendingBytes) {
        stop("ERROR: server busy: too much pending input, try again\n");
        return;
      }
      armIdle();
      const r = framer.push(chunk);
      if (r.type === "command") return stop(null, r.bytes);
      if (r.type === "too-large") return stop(`ERROR: command too large (limit ${r.limit} bytes)\n`);
      if (framer.isForward) return; // a FORWARD ends with its JSON, never by a pause
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        if (reading && isCompleteLine(framer.pending().toString("utf8"))) stop(null, framer.pending());
      }, this.o.quietMs);
    });
    socket.on("end", () => stop(null, framer.pending())); // half-close: what came is the command
  }

  private async execute(socket: net.Socket, bytes: Buffer): Promise<void> {
    let reply: string | null;
    try {
      reply = await this.dispatch(bytes.toString("utf8"), socket);
    } catch (e) {
      reply = errorLine(e);
    }
    if (reply !== null) this.replyAndClose(socket, reply);
  }

  /** The reply text, or null when the connection was taken over (SUBSCRIBE). */
  private async dispatch(line: string, socket: net.Socket): Promise<string | null> {
    if (line.trim() === "") return "ERROR: empty command\n";
    let cmd: ReturnType<typeof parseCommand>;
    try {
      cmd = parseCommand(line);
    } catch (e) {
      if (e instanceof AuthFormatError) return `ERROR: ${e.message}\n`;
      throw e;
    }
    const spec = COMMANDS[cmd.word];
    if (!spec) return "ERROR: Unknown command\n";
    if (this.secretDigest) {
      if (cmd.auth === null && spec.mutating) return "ERROR: authentication required\n";
      if (cmd.auth !== null && !timingSafeEqual(digest(cmd.auth), this.secretDigest)) {
        return "ERROR: authentication failed\n";
      }
    }
    const h = this.o.handler;
    if (cmd.word === "FORWARD") return this.forward(cmd.rest);
    if (cmd.args.length < spec.minArgs || cmd.args.length > spec.maxArgs) {
      return `ERROR: Invalid ${cmd.word} command format. Usage: ${spec.usage}\n`;
    }
    const [a, b] = cmd.args;
    switch (cmd.word) {
      case "ADD_VOTER":
        await this.timed(h.addVoter(a!, b!), "ADD_VOTER");
        return "OK\n";
      case "ADD_LEARNER":
        await this.timed(h.addLearner(a!, b!), "ADD_LEARNER");
        return "OK\n";
      case "REMOVE":
        await this.timed(h.remove(a!), "REMOVE");
        return "OK\n";
      case "TRANSFER": {
        const leader = await this.timed(h.transfer(a ?? null), "TRANSFER");
        return `OK ${oneLine(String(leader))}\n`;
      }
      case "STATUS":
        return formatStatus(h.status());
      case "STATUS_JSON":
        return statusJson(h.status());
      case "CLUSTER_JSON":
        return `${JSON.stringify({ members: await this.timed(h.cluster(), "CLUSTER_JSON") })}\n`;
      case "PEERS":
        return formatPeers(h.status());
      case "FILES":
        return formatFiles(h.files(a));
      case "SUBSCRIBE":
        this.subscribe(socket);
        return null;
    }
    return "ERROR: Unknown command\n";
  }

  private async forward(rest: string): Promise<string> {
    const h = this.o.handler;
    if (!h.isLeader()) return "ERROR: Not leader\n"; // before parsing, as the original
    const brace = rest.indexOf("{");
    if (brace === -1) return "ERROR: Invalid FORWARD command format\n";
    let cmd: ReturnType<typeof parseForwardJson>;
    try {
      cmd = parseForwardJson(rest.slice(brace));
    } catch (e) {
      if (e instanceof ForwardFormatError) return `ERROR: ${oneLine(e.message)}\n`;
      throw e;
    }
    try {
      cmd.path = this.o.checkPath(cmd.path);
    } catch (e) {
      return `ERROR: invalid path: ${oneLine(e instanceof Error ? e.message : String(e))}\n`;
    }
    await this.timed(h.forward(cmd), "FORWARD");
    return "OK\n";
  }

  private subscribe(socket: net.Socket): void {
    const st = this.o.handler.status();
    socket.write(
      `${JSON.stringify({ type: "hello", node: st.node, version: st.version, state: st.state, term: st.term, leader: st.leader })}\n`,
    );
    let dropped = 0;
    const send = (event: Record<string, unknown>) => {
      try {
        if (socket.destroyed || !socket.writable) return;
        if (socket.writableLength > this.o.maxSubscriberBufferBytes) {
          dropped++;
          this.droppedEvents++;
          return;
        }
        const line = JSON.stringify(event, jsonSafe);
        if (dropped > 0) {
          socket.write(`${JSON.stringify({ type: "dropped", count: dropped })}\n`);
          dropped = 0;
        }
        socket.write(`${line}\n`);
      } catch {
        // an unserialisable event or a dying socket must never reach the node's event emitter
        dropped++;
        this.droppedEvents++;
      }
    };
    const unsubscribe = this.o.handler.subscribe(send);
    this.subscriberCount++;
    socket.once("close", () => {
      this.subscriberCount--;
      unsubscribe();
    });
    socket.on("end", () => socket.end()); // client half-closed: we are done too
  }

  private timed<T>(p: Promise<T>, what: string): Promise<T> {
    const ms = this.o.commandTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`timed out after ${ms} ms waiting for ${what} to complete (it may still complete)`),
          ),
        ms,
      );
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** Writes the reply and half-closes; bytes the client still sends are swallowed for a while, so that it
   * gets to read the reply instead of a reset, then the connection is destroyed. */
  private replyAndClose(socket: net.Socket, text: string): void {
    if (socket.destroyed) return;
    if (socket.writable) socket.end(text);
    const linger = setTimeout(() => socket.destroy(), this.o.lingerMs);
    socket.once("close", () => clearTimeout(linger));
    socket.resume();
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `ERROR: ${oneLine(msg)}\n`;
}

/** JSON.stringify replacer for events: bigint as string, bytes (Buffer too, before its toJSON) as their length. */
function jsonSafe(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) return { bytes: original.byteLength };
  if (typeof value === "bigint") return value.toString();
  return value;
}
