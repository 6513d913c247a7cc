import { createServer } from "node:net";
import type { TcpTransportOptions } from "../../../src/raft/transport/options.ts";
import { TcpTransport } from "../../../src/raft/transport/tcp-transport.ts";
import type { TransportHandler } from "../../../src/raft/transport.ts";
import { type Entry, emptyMessage, type Message } from "../../../src/raft/types.ts";

export function appMessage(index: number, entries: Entry[] = []): Message {
  return { ...emptyMessage("app", "n1", "n2", 3), index, logTerm: 3, commit: index, entries };
}

/** Resolves when `predicate` holds after an event, or rejects after `ms` (a deadline, not a sleep). */
export class Signal {
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  notify(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  until(check: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      this.waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

/** A handler that records what it receives; requests and snapshots are delegated to overridable hooks. */
export class RecordingHandler implements TransportHandler {
  readonly messages: Message[] = [];
  readonly signal = new Signal();
  requestHook: (payload: unknown) => Promise<unknown> = async (p) => ({ echo: p });
  snapshotHook: (message: Message, data: AsyncIterable<Uint8Array>) => Promise<void> = async (_m, data) => {
    for await (const _ of data) {
      // drain
    }
  };

  onMessage(message: Message): void {
    this.messages.push(message);
    this.signal.notify();
  }

  onRequest(payload: unknown): Promise<unknown> {
    return this.requestHook(payload);
  }

  onSnapshot(message: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    return this.snapshotHook(message, data);
  }

  waitForMessages(n: number, ms = 10_000): Promise<void> {
    return this.signal.until(() => this.messages.length >= n, ms, `${n} messages`);
  }
}

/** Creates listening transports and closes them all in cleanup(). */
export class TransportPool {
  private readonly all: TcpTransport[] = [];

  async start(
    options: TcpTransportOptions = {},
  ): Promise<{ t: TcpTransport; h: RecordingHandler; addr: string }> {
    const t = this.create(options);
    const h = new RecordingHandler();
    const addr = await t.listen(h);
    return { t, h, addr };
  }

  create(options: TcpTransportOptions = {}): TcpTransport {
    const t = new TcpTransport({ backoff: { initialMs: 10, maxMs: 100 }, ...options });
    this.all.push(t);
    return t;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.all.splice(0).map((t) => t.close()));
  }
}

/** A port that was free a moment ago (nothing listens on it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      if (a === null || typeof a === "string") return reject(new Error("no address"));
      s.close(() => resolve(a.port));
    });
  });
}
