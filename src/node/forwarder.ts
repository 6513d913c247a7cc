import type { RaftNode } from "../raft/driver/raft-node.ts";
import { NotLeaderError } from "../raft/driver/raft-node.ts";
import type { Transport } from "../raft/transport.ts";
import { notLeaderMessage, type ProposeReply, parseNotLeader } from "./peer-rpc.ts";

export interface ForwarderOptions {
  raft: RaftNode;
  transport: Transport;
  /** Give up after this long without an acknowledgement (the change stays dirty and is rescanned). */
  deadlineMs?: number;
  requestTimeoutMs?: number;
}

/**
 * Gets a proposal committed no matter which node we are: the leader proposes locally, a follower
 * sends it to the leader over the peer connection and waits for the leader's "applied" reply.
 * Retries through leader changes and outages until the deadline — never "sent = done".
 * Duplicates after a retry are harmless: re-applying an identical put or delete is a no-op.
 */
export class Forwarder {
  constructor(private readonly o: ForwarderOptions) {}

  async propose(data: Uint8Array): Promise<ProposeReply> {
    const deadline = Date.now() + (this.o.deadlineMs ?? 30_000);
    let backoff = 20;
    let lastError: unknown = null;
    while (Date.now() < deadline) {
      const { raft } = this.o;
      try {
        if (raft.isLeader) {
          const before = raft.appliedIndex;
          const result = await raft.propose(data);
          return { index: Math.max(before, raft.appliedIndex), result };
        }
        const leader = raft.leader;
        const address = leader ? raft.addressOf(leader) : undefined;
        if (leader && address) {
          const reply = (await this.o.transport.request(
            address,
            { t: "propose", data },
            this.o.requestTimeoutMs ?? 10_000,
          )) as ProposeReply;
          // Our own folder must reflect the change before the caller looks at the index again.
          await raft.waitApplied(reply.index);
          return reply;
        }
      } catch (err) {
        lastError = err;
        const msg = err instanceof Error ? err.message : String(err);
        if (!(err instanceof NotLeaderError) && !parseNotLeader(msg) && !isRetryable(msg)) throw err;
      }
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 500);
    }
    throw new Error(`proposal not acknowledged before the deadline: ${String(lastError ?? "no leader")}`);
  }

  /** Leader side of the peer request: propose locally, answer once applied. */
  async serve(data: Uint8Array): Promise<ProposeReply> {
    const { raft } = this.o;
    if (!raft.isLeader) throw new Error(notLeaderMessage(raft.leader));
    const result = await raft.propose(data);
    return { index: raft.appliedIndex, result };
  }
}

function isRetryable(msg: string): boolean {
  return /timed out|timeout|ECONNREFUSED|ECONNRESET|closed|not connected|EPIPE|proposal lost|superseded|transfer-in-progress/i.test(
    msg,
  );
}
