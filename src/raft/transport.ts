import type { Message } from "./types.ts";

/**
 * Moves Raft messages, snapshots and application requests between nodes (hashicorp/raft's Transport).
 * Peers are addressed by their transport address ("host:port"); one persistent connection per peer,
 * re-established with backoff. Messages to one peer arrive in the order they were sent, or not at all.
 */
export interface Transport {
  /** Start listening; resolves with the bound address (useful with port 0). */
  listen(handler: TransportHandler): Promise<string>;
  /** Fire-and-forget; dropped silently when the peer is unreachable (Raft retries by itself). */
  send(address: string, message: Message): void;
  /** Send an InstallSnapshot message with its data streamed after it. Rejects on failure. */
  sendSnapshot(address: string, message: Message, data: AsyncIterable<Uint8Array>): Promise<void>;
  /** Application request/response over the same connection (forwarding proposals, reads, chunk fetches). */
  request(address: string, payload: unknown, timeoutMs: number): Promise<unknown>;
  close(): Promise<void>;
}

export interface TransportHandler {
  /** `fromAddress` is the sender's advertised address (from its hello): a node that has just joined
   * has no configuration yet and learns where to answer the leader from it. */
  onMessage(message: Message, fromAddress?: string): void;
  /** Consume the snapshot data fully before resolving; a rejection tells the sender it failed. */
  onSnapshot(message: Message, data: AsyncIterable<Uint8Array>): Promise<void>;
  /** Answer an application request; a rejection is returned to the requester as an error. */
  onRequest(payload: unknown): Promise<unknown>;
}
