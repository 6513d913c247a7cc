// In-process mode: the node this process runs, read directly (status, events, its own index, its log
// file); the other members' files and events through their admin ports, as in attach mode.
import path from "node:path";
import type { PickboxNode } from "../../src/node/pickbox-node.ts";
import type { ClusterMemberStatus, FileEntry } from "../model/types.ts";
import {
  type ClusterBackend,
  ClusterSource,
  type ClusterSourceOptions,
  realAdminAccess,
} from "./cluster-source.ts";
import type { TuiSink } from "./data-source.ts";
import { tailLog } from "./log-tail.ts";

/** The parts of PickboxNode the TUI reads (a fake can stand in for tests). */
export type TuiNode = Pick<PickboxNode, "events" | "statusSnapshot" | "clusterStatus" | "stateDir"> & {
  options: { nodeId: string; secret?: string | null };
  index: { list(): { path: string; kind: string; deleted?: boolean; size: number; hash: string }[] };
};

export class InProcessBackend implements ClusterBackend {
  readonly mode = "in-process" as const;
  readonly via = "in-process";
  readonly local;

  constructor(private readonly node: TuiNode) {
    const id = node.options.nodeId;
    this.local = {
      id,
      files: (): FileEntry[] =>
        node.index
          .list()
          .filter((e) => e.kind === "file" && !e.deleted)
          .map((e) => ({ path: e.path, size: e.size, hash: e.hash })),
      subscribe: node.events.subscribe.bind(node.events),
    };
  }

  async fetchCluster(): Promise<{ members: ClusterMemberStatus[]; self: string | null; via: string }> {
    return { members: await this.node.clusterStatus(), self: this.local.id, via: this.via };
  }

  startExtras(sink: TuiSink): () => void {
    // What happened before the TUI opened (the node keeps a short history).
    for (const e of this.node.events.history()) sink.event(e);
    return tailLog({
      file: path.join(this.node.stateDir, "node.log"),
      onLine: (l) => sink.log(l.level, l.node, l.msg, l.at),
    });
  }
}

export function inProcessSource(node: TuiNode, o: ClusterSourceOptions = {}): ClusterSource {
  return new ClusterSource(new InProcessBackend(node), {
    admin: realAdminAccess(node.options.secret ?? undefined),
    ...o,
  });
}
