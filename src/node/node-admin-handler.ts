import type { AdminHandler, LegacyForwardCommand } from "../admin/admin-handler.ts";
import { type AdminFileInfo, type AdminStatus, adminRole } from "../admin/admin-status.ts";
import { VERSION } from "../cli/version.ts";
import type { PickboxNode } from "./pickbox-node.ts";

/** The admin protocol's view of a node: translates admin commands into node operations. */
export class NodeAdminHandler implements AdminHandler {
  constructor(private readonly node: PickboxNode) {}

  isLeader(): boolean {
    return this.node.raft.isLeader;
  }

  async addVoter(id: string, addr: string): Promise<void> {
    await this.node.addMember(id, addr, false);
  }

  async addLearner(id: string, addr: string): Promise<void> {
    await this.node.addMember(id, addr, true);
  }

  async remove(id: string): Promise<void> {
    await this.node.removeMember(id);
  }

  async transfer(id: string | null): Promise<string> {
    return this.node.transferLeadership(id);
  }

  async forward(cmd: LegacyForwardCommand): Promise<void> {
    await this.node.forwardLegacy(cmd);
  }

  status(): AdminStatus {
    const s = this.node.statusSnapshot();
    const leaderLast = s.lastIndex;
    const progress = new Map(s.progress.map((p) => [p.id, p]));
    const peers = [
      ...s.voters.map((id) => ({ id, voter: true })),
      ...s.learners.map((id) => ({ id, voter: false })),
    ].map(({ id, voter }) => {
      const p = progress.get(id);
      return {
        id,
        address: s.addresses[id] ?? "",
        voter,
        match: p ? p.match : null,
        lag: p ? Math.max(0, leaderLast - p.match) : null,
        lastContactMs: p ? p.ticksSinceContact * this.node.tickMs : null,
      };
    });
    return {
      node: s.node,
      state: adminRole(s.role),
      term: s.term,
      leader: s.leader,
      leaderAddr: s.leaderAddress,
      leaderAdmin: s.leaderAdmin,
      peers,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      lastLogIndex: s.lastIndex,
      files: s.files,
      bytes: s.bytes,
      uptimeMs: s.uptimeMs,
      version: VERSION,
    };
  }

  async cluster(): Promise<Record<string, unknown>[]> {
    return (await this.node.clusterStatus()) as unknown as Record<string, unknown>[];
  }

  files(prefix?: string): AdminFileInfo[] {
    return this.node.index
      .list(prefix ? { prefix } : {})
      .filter((e) => e.kind === "file" && !e.deleted)
      .map((e) => ({ path: e.path, size: e.size, hash: e.hash, mode: e.mode }));
  }

  subscribe(listener: (event: Record<string, unknown>) => void): () => void {
    return this.node.events.subscribe(listener);
  }
}
