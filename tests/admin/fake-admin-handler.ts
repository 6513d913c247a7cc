// A scriptable AdminHandler for the admin tests, plus raw-socket helpers that talk to the server the way the
// original Go clients and `nc` do (no framing help from our own client).
import net from "node:net";
import type { AdminHandler, LegacyForwardCommand } from "../../src/admin/admin-handler.ts";
import type { AdminFileInfo, AdminStatus } from "../../src/admin/admin-status.ts";

export const FIXED_STATUS: AdminStatus = {
  node: "node1",
  state: "Leader",
  term: 3,
  leader: "node1",
  leaderAddr: "127.0.0.1:8001",
  leaderAdmin: "127.0.0.1:9001",
  peers: [
    { id: "node1", address: "127.0.0.1:8001", voter: true, match: 42, lag: 0, lastContactMs: 0 },
    { id: "node2", address: "127.0.0.1:8002", voter: true, match: 40, lag: 2, lastContactMs: 12 },
    { id: "node9", address: "127.0.0.1:8009", voter: false, match: null, lag: null, lastContactMs: null },
  ],
  commitIndex: 42,
  appliedIndex: 41,
  lastLogIndex: 42,
  files: 2,
  bytes: 1234,
  uptimeMs: 3_723_500,
  version: "0.1.0-test",
};

export const FIXED_FILES: AdminFileInfo[] = [
  {
    path: "a.txt",
    size: 5,
    hash: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    mode: 0o644,
  },
  {
    path: "dir/run.sh",
    size: 1229,
    hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    mode: 0o755,
  },
];

type Call = { method: string; args: unknown[] };

export class FakeAdminHandler implements AdminHandler {
  leader = true;
  calls: Call[] = [];
  forwarded: LegacyForwardCommand[] = [];
  /** When set, the next mutating call fails with this message. */
  failWith: string | null = null;
  /** Replaces forward's behaviour (e.g. to delay or never resolve). */
  forwardImpl: ((cmd: LegacyForwardCommand) => Promise<void>) | null = null;
  addVoterImpl: ((id: string, addr: string) => Promise<void>) | null = null;
  private readonly listeners = new Set<(e: Record<string, unknown>) => void>();

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Delivers an event to every subscriber, as the node's event stream does (synchronously). */
  emit(event: Record<string, unknown>): void {
    for (const l of this.listeners) l(event);
  }

  isLeader(): boolean {
    return this.leader;
  }

  private async mutate(method: string, ...args: unknown[]): Promise<void> {
    this.calls.push({ method, args });
    if (this.failWith) throw new Error(this.failWith);
  }

  async addVoter(id: string, addr: string): Promise<void> {
    if (this.addVoterImpl) return this.addVoterImpl(id, addr);
    return this.mutate("addVoter", id, addr);
  }

  addLearner(id: string, addr: string): Promise<void> {
    return this.mutate("addLearner", id, addr);
  }

  remove(id: string): Promise<void> {
    return this.mutate("remove", id);
  }

  async transfer(id: string | null): Promise<string> {
    await this.mutate("transfer", id);
    return id ?? "node2";
  }

  async forward(cmd: LegacyForwardCommand): Promise<void> {
    if (this.forwardImpl) return this.forwardImpl(cmd);
    await this.mutate("forward", cmd);
    this.forwarded.push(cmd);
  }

  status(): AdminStatus {
    return FIXED_STATUS;
  }

  async cluster(): Promise<Record<string, unknown>[]> {
    return [
      {
        id: "node1",
        voter: true,
        address: "127.0.0.1:8001",
        status: { role: "leader", term: 3 },
        error: null,
      },
      { id: "node2", voter: false, address: "127.0.0.1:8002", status: null, error: "connection refused" },
    ];
  }

  files(prefix?: string): AdminFileInfo[] {
    this.calls.push({ method: "files", args: [prefix] });
    return prefix === undefined ? FIXED_FILES : FIXED_FILES.filter((f) => f.path.startsWith(prefix));
  }

  subscribe(listener: (event: Record<string, unknown>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface RawOptions {
  /** Half-close after the last write (like `nc -N`). */
  end?: boolean;
  /** Pause between writes so that they arrive as separate segments. */
  gapMs?: number;
}

/**
 * Writes `parts` on one connection and resolves with everything the server sends until it closes. Socket
 * errors after a reply (reset while we were still writing) keep the bytes already received.
 */
export function rawExchange(
  port: number,
  parts: Array<string | Uint8Array>,
  opts: RawOptions = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    socket.setNoDelay(true);
    const got: Buffer[] = [];
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      socket.destroy();
      const text = Buffer.concat(got).toString("utf8");
      if (err && text === "") reject(err);
      else resolve(text);
    };
    socket.on("data", (c: Buffer) => got.push(c));
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("error", (e) => finish(e));
    socket.on("connect", async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0 && opts.gapMs) await Bun.sleep(opts.gapMs);
        if (socket.destroyed || !socket.writable) return;
        await new Promise<void>((r) => socket.write(parts[i]!, () => r()));
      }
      if (opts.end && !socket.destroyed) socket.end();
    });
  });
}

/** Connects and returns the socket with a promise of all the text the server sends before closing. */
export function rawConnect(port: number): Promise<{ socket: net.Socket; reply: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const got: Buffer[] = [];
    // The server half-closes after its reply ("end"); it may also reset us ("close").
    const reply = new Promise<string>((r) => {
      const done = () => r(Buffer.concat(got).toString("utf8"));
      socket.on("end", done);
      socket.on("close", done);
    });
    socket.on("data", (c: Buffer) => got.push(c));
    socket.on("error", () => {});
    socket.once("connect", () => resolve({ socket, reply }));
    socket.once("error", reject);
  });
}

/** Deterministic pseudo-random bytes (xorshift32), so large payloads are the same on every run. */
export function seededBytes(n: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Polls `cond` until true or the deadline passes. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}
