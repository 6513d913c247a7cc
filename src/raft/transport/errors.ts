/** Errors a transport caller may want to tell apart (retry elsewhere vs. give up). */

/** The remote handler rejected the request; `message` is the remote error's message. */
export class RemoteError extends Error {
  override name = "RemoteError";
}

/** No answer within the deadline. The request may or may not have been processed remotely. */
export class TransportTimeoutError extends Error {
  override name = "TransportTimeoutError";
}

/** The connection failed or dropped before an answer arrived. */
export class ConnectionLostError extends Error {
  override name = "ConnectionLostError";
}

/** The transport was closed locally. */
export class TransportClosedError extends Error {
  override name = "TransportClosedError";
  constructor() {
    super("transport closed");
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
