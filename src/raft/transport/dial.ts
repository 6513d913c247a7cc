import { connect, type Socket } from "node:net";
import { ConnectionLostError, errorMessage } from "./errors.ts";
import { encodeFrame, FrameDecoder } from "./frame-codec.ts";
import { PROTOCOL_VERSION } from "./frames.ts";
import { helloMac } from "./handshake.ts";
import { parseAddress } from "./options.ts";

export interface DialParams {
  address: string;
  /** Our advertised address, sent in hello. */
  self: string;
  secret: string | undefined;
  connectTimeoutMs: number;
  maxFrameBytes: number;
}

export interface DialedConnection {
  socket: Socket;
  /** Carries on decoding the socket's stream; may already hold bytes after the challenge. */
  decoder: FrameDecoder;
}

/**
 * Opens a connection and performs the dialer's half of the handshake: wait for the acceptor's challenge,
 * answer hello. Resolves once hello is written (the caller may pipeline frames behind it; the acceptor's
 * welcome or reject arrives later on the stream). The socket is handed over paused: the caller attaches
 * its own 'data' and 'close' listeners, checks `socket.destroyed`, drains `decoder`, then resumes it.
 */
export function dial(p: DialParams, onSocket?: (socket: Socket) => void): Promise<DialedConnection> {
  return new Promise((resolve, reject) => {
    let target: { host: string; port: number };
    try {
      target = parseAddress(p.address);
    } catch (err) {
      reject(err);
      return;
    }
    const socket = connect({ host: target.host, port: target.port });
    // An 'error' without a listener would crash the process; 'close' always follows and is handled.
    socket.on("error", () => {});
    onSocket?.(socket);
    const decoder = new FrameDecoder(p.maxFrameBytes);
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new ConnectionLostError(`connect to ${p.address} timed out after ${p.connectTimeoutMs} ms`)),
      p.connectTimeoutMs,
    );
    timer.unref?.();
    let lastError: Error | null = null;
    const onError = (err: Error) => {
      lastError = err;
    };
    const onClose = () =>
      fail(new ConnectionLostError(`connect to ${p.address} failed: ${lastError?.message ?? "closed"}`));
    const onData = (chunk: Uint8Array) => {
      try {
        decoder.push(chunk);
        const frame = decoder.next();
        if (frame === null) return;
        if (frame.k === "reject") throw new ConnectionLostError(`${p.address} refused: ${frame.reason}`);
        if (frame.k !== "challenge")
          throw new ConnectionLostError(`${p.address} sent ${frame.k} before challenge`);
        const mac = p.secret === undefined ? undefined : helloMac(p.secret, frame.nonce, p.self);
        socket.write(encodeFrame({ k: "hello", v: PROTOCOL_VERSION, addr: p.self, ...(mac ? { mac } : {}) }));
        done = true;
        cleanup();
        // Held until the caller has its own 'data' listener, so no bytes go unheard.
        socket.pause();
        resolve({ socket, decoder });
      } catch (err) {
        fail(err instanceof Error ? err : new Error(errorMessage(err)));
      }
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.off("data", onData);
    };
    socket.setNoDelay(true);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.on("data", onData);
  });
}
