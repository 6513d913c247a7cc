// Attach mode: a running cluster seen through the admin protocol. CLUSTER_JSON from the node given with
// --addr (or, once it is gone, from any member seen before), SUBSCRIBE and FILES on every member.
import { parseHostPort } from "../../src/admin/admin-client.ts";
import type { ClusterMemberStatus } from "../model/types.ts";
import {
  AdminReplyError,
  clusterFromStatusJson,
  memberAdminAddress,
  parseClusterReply,
} from "./admin-parse.ts";
import {
  type AdminAccess,
  type ClusterBackend,
  ClusterSource,
  type ClusterSourceOptions,
  realAdminAccess,
} from "./cluster-source.ts";

export interface AttachOptions extends ClusterSourceOptions {
  /** Admin address of any member, e.g. 127.0.0.1:9001. */
  address: string;
  secret?: string;
}

export class AttachBackend implements ClusterBackend {
  readonly mode = "attach" as const;
  readonly via: string;
  /** Members' admin addresses seen so far: where to ask when the first address stops answering. */
  private readonly known: string[] = [];
  private preferred: string;

  constructor(
    private readonly address: string,
    private readonly admin: AdminAccess,
    private readonly timeoutMs = 4000,
  ) {
    parseHostPort(address); // fail early on a malformed --addr
    this.via = `admin ${address}`;
    this.preferred = address;
  }

  async fetchCluster(): Promise<{ members: ClusterMemberStatus[]; self: string | null; via: string }> {
    const candidates = [...new Set([this.preferred, this.address, ...this.known])];
    let lastErr: unknown = null;
    for (const addr of candidates) {
      try {
        const members = await this.askCluster(addr);
        this.preferred = addr;
        for (const m of members) {
          const a = memberAdminAddress(m);
          if (a && !this.known.includes(a)) this.known.push(a);
        }
        const self = answering(members, addr);
        return { members, self, via: `admin ${addr}` };
      } catch (err) {
        lastErr = err;
      }
    }
    const why = lastErr instanceof Error ? lastErr.message : String(lastErr);
    throw new Error(`no member answers (${candidates.join(", ")}): ${why}`);
  }

  private async askCluster(addr: string): Promise<ClusterMemberStatus[]> {
    const reply = await this.admin.request(addr, "CLUSTER_JSON", this.timeoutMs);
    try {
      return parseClusterReply(reply);
    } catch (err) {
      if (!(err instanceof AdminReplyError && err.unknownCommand)) throw err;
      // An older node: its own status only.
      return clusterFromStatusJson(await this.admin.request(addr, "STATUS_JSON", this.timeoutMs), addr);
    }
  }
}

/** Which member answered at `addr`: by exact admin address, else by port (e.g. localhost vs 127.0.0.1). */
export function answering(members: ClusterMemberStatus[], addr: string): string | null {
  const exact = members.find((m) => memberAdminAddress(m) === addr);
  if (exact) return exact.id;
  const port = parseHostPort(addr).port;
  const byPort = members.filter((m) => {
    const a = memberAdminAddress(m);
    return a !== null && parseHostPort(a).port === port;
  });
  return byPort.length === 1 ? byPort[0]!.id : null;
}

export function attachSource(o: AttachOptions): ClusterSource {
  const admin = o.admin ?? realAdminAccess(o.secret);
  return new ClusterSource(new AttachBackend(o.address, admin, o.requestTimeoutMs), { ...o, admin });
}
