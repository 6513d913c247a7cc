import type { Socket } from "node:net";
import type { Message } from "../types.ts";
import { dial } from "./dial.ts";
import { ConnectionLostError, errorMessage, RemoteError, TransportTimeoutError } from "./errors.ts";
import { encodeChunkFrameHead, encodeFrame } from "./frame-codec.ts";
import type { ResolvedTransportOptions } from "./options.ts";

/** Lets the transport abort a transfer in flight (close()). */
export interface SnapshotTransfer {
  abort(err: Error): void;
}

/**
 * Streams one snapshot on a connection of its own, so heartbeats on the peer connection are never stuck
 * behind it. Memory stays bounded: one chunk is read from `data` only after the socket drained the
 * previous one. Chunks are written as they are (no copy), so `data` must yield a fresh buffer each time
 * (never refill one it yielded before). Resolves when the receiver acknowledges that its onSnapshot succeeded.
 */
export async function streamSnapshot(
  opts: ResolvedTransportOptions,
  self: string,
  address: string,
  message: Message,
  data: AsyncIterable<Uint8Array>,
  register: (t: SnapshotTransfer) => () => void,
): Promise<void> {
  const held: { socket: Socket | null } = { socket: null };
  let failure: Error | null = null;
  let ack: { ok: boolean; e?: string } | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const fail = (err: Error) => {
    failure ??= err;
    held.socket?.destroy();
    notify();
  };
  const unregister = register({ abort: fail });
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  const progress = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(
      () =>
        fail(
          new TransportTimeoutError(
            `snapshot to ${address} made no progress for ${opts.snapshotIdleTimeoutMs} ms`,
          ),
        ),
      opts.snapshotIdleTimeoutMs,
    );
    idleTimer.unref?.();
  };
  /** Waits for drain, an ack or a failure, whichever comes first. */
  const waitEvent = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });

  try {
    const conn = await dial(
      {
        address,
        self,
        secret: opts.secret,
        connectTimeoutMs: opts.connectTimeoutMs,
        maxFrameBytes: opts.maxFrameBytes,
      },
      (s) => {
        held.socket = s;
      },
    );
    const s = conn.socket;
    if (failure) throw failure;
    s.on("error", (err) => {
      failure ??= new ConnectionLostError(`snapshot connection to ${address} failed: ${err.message}`);
    });
    s.on("close", () => fail(new ConnectionLostError(`snapshot connection to ${address} closed before ack`)));
    let needDrain = false;
    s.on("drain", () => {
      needDrain = false;
      progress();
      notify();
    });
    const readFrames = () => {
      try {
        for (let f = conn.decoder.next(); f !== null; f = conn.decoder.next()) {
          if (f.k === "welcome") continue;
          if (f.k === "snapAck") {
            ack = f.ok ? { ok: true } : { ok: false, e: f.e ?? "snapshot refused" };
            notify();
          } else if (f.k === "reject") {
            fail(new ConnectionLostError(`${address} refused the connection: ${f.reason}`));
          } else {
            fail(new ConnectionLostError(`${address} sent an unexpected ${f.k} frame`));
          }
        }
      } catch (err) {
        fail(new ConnectionLostError(`bad frame from ${address}: ${errorMessage(err)}`));
      }
    };
    s.on("data", (chunk: Uint8Array) => {
      conn.decoder.push(chunk);
      readFrames();
    });
    readFrames();
    s.resume();
    progress();

    const write = async (bytes: Uint8Array) => {
      if (!s.write(bytes)) {
        needDrain = true;
        while (!failure && !ack && needDrain) await waitEvent();
      }
    };
    await write(encodeFrame({ k: "snapBegin", m: message }));
    const max = opts.snapshotChunkBytes;
    outer: for await (const chunk of data) {
      for (let at = 0; at < chunk.byteLength; at += max) {
        if (failure || ack) break outer;
        const piece = at === 0 && chunk.byteLength <= max ? chunk : chunk.subarray(at, at + max);
        // Zero-copy: the chunk itself goes to the socket, which is why a yielded chunk must not be reused.
        s.write(encodeChunkFrameHead(piece.byteLength));
        await write(piece);
      }
    }
    if (!failure && !ack) await write(encodeFrame({ k: "snapEnd" }));
    while (!failure && !ack) await waitEvent();
    const verdict = ack as { ok: boolean; e?: string } | null;
    if (verdict?.ok) {
      s.end();
      return;
    }
    if (verdict) throw new RemoteError(verdict.e ?? "snapshot refused");
    throw failure ?? new ConnectionLostError("snapshot failed");
  } catch (err) {
    // Also covers a throwing `data` iterable: the receiver sees the stream break off.
    held.socket?.destroy();
    throw err;
  } finally {
    if (idleTimer) clearTimeout(idleTimer);
    unregister();
  }
}
