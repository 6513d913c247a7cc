import { DEFAULT_MAX_FRAME_BYTES } from "./frame-codec.ts";

export type TransportLogLevel = "debug" | "info" | "warn" | "error";
export type TransportLogger = (
  level: TransportLogLevel,
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export interface TcpTransportOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  bindHost?: string;
  /** 0 picks an ephemeral port (listen() resolves with the real address). Default 0. */
  bindPort?: number;
  /** Address peers should use to reach us, sent in hello. Default: the bound host:port. */
  advertiseAddress?: string;
  /** Larger frames (either direction) drop the connection. Default 64 MiB. */
  maxFrameBytes?: number;
  /** TCP connect plus handshake deadline, and how long an accepted socket may stay silent. Default 5 s. */
  connectTimeoutMs?: number;
  /** Used by request() when it is given no positive timeout. Default 10 s. */
  requestTimeoutMs?: number;
  /** Snapshot transfer fails after this long without progress (bytes drained or ack). Default 60 s. */
  snapshotIdleTimeoutMs?: number;
  /** Snapshot data is cut into frames of at most this size. Default 1 MiB. */
  snapshotChunkBytes?: number;
  /** Received snapshot bytes buffered ahead of the consumer before the socket is paused. Default 4 MiB. */
  snapshotBufferBytes?: number;
  /** Reconnect delay doubles from initialMs to maxMs after consecutive failures. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Frames held per peer while it cannot be written to; the oldest are dropped beyond this. */
  maxQueuedFrames?: number;
  maxQueuedBytes?: number;
  logger?: TransportLogger;
  /** Cluster secret: dialers must prove knowledge of it (HMAC over a fresh nonce) or are refused. */
  secret?: string;
}

export interface ResolvedTransportOptions {
  bindHost: string;
  bindPort: number;
  advertiseAddress: string | undefined;
  maxFrameBytes: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  snapshotIdleTimeoutMs: number;
  snapshotChunkBytes: number;
  snapshotBufferBytes: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  maxQueuedFrames: number;
  maxQueuedBytes: number;
  log: TransportLogger;
  secret: string | undefined;
}

const noLog: TransportLogger = () => {};

export function resolveOptions(o: TcpTransportOptions = {}): ResolvedTransportOptions {
  const maxFrameBytes = o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  // A snapshot frame carries a chunk plus a few bytes of framing; keep it below the frame limit.
  const snapshotChunkBytes = Math.max(1, Math.min(o.snapshotChunkBytes ?? 1024 * 1024, maxFrameBytes - 64));
  return {
    bindHost: o.bindHost ?? "127.0.0.1",
    bindPort: o.bindPort ?? 0,
    advertiseAddress: o.advertiseAddress,
    maxFrameBytes,
    connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    snapshotIdleTimeoutMs: o.snapshotIdleTimeoutMs ?? 60_000,
    snapshotChunkBytes,
    snapshotBufferBytes: o.snapshotBufferBytes ?? 4 * 1024 * 1024,
    backoffInitialMs: o.backoff?.initialMs ?? 50,
    backoffMaxMs: o.backoff?.maxMs ?? 2000,
    maxQueuedFrames: o.maxQueuedFrames ?? 8192,
    maxQueuedBytes: o.maxQueuedBytes ?? 64 * 1024 * 1024,
    log: o.logger ?? noLog,
    secret: o.secret ? o.secret : undefined,
  };
}

/** Splits "host:port" (IPv6 as "[::1]:port"). Throws on anything else. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) throw new Error(`bad address "${address}": expected host:port`);
  let host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`bad port in address "${address}"`);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
