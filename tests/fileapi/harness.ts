// In-process Pickbox nodes with the file API started around them (the way PickboxNode.start() will).

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type ErrorCode, FileApiError } from "../../src/fileapi/errors.ts";
import { NodeFileApiBackend } from "../../src/fileapi/node-backend.ts";
import { type FileApiServer, type FileApiServerOptions, startFileApi } from "../../src/fileapi/server.ts";
import { PickboxNode } from "../../src/node/pickbox-node.ts";
import { freePorts, waitFor } from "../integration/helpers/cluster.ts";
import { testNodeOptions } from "../node/test-node-options.ts";

/** The file API error code `p` rejects with, or "resolved". */
export async function errorCode(p: Promise<unknown>): Promise<ErrorCode | "resolved"> {
  try {
    await p;
    return "resolved";
  } catch (e) {
    if (e instanceof FileApiError) return e.code;
    throw e;
  }
}

export interface ApiNode {
  node: PickboxNode;
  api: FileApiServer;
  backend: NodeFileApiBackend;
  raftPort: number;
}

/** The backend exactly as the node's wiring builds it (private members reached the way TS allows). */
export function backendFor(node: PickboxNode): NodeFileApiBackend {
  // biome-ignore lint/complexity/useLiteralKeys: private members, reached the way TypeScript allows
  const forwarder = node["forwarder"];
  return new NodeFileApiBackend(node, {
    propose: (d) => forwarder.propose(d),
    // biome-ignore lint/complexity/useLiteralKeys: as above
    pushChunks: (h) => node["pushChunks"](h),
  });
}

export class InProcessCluster {
  readonly dir: string;
  readonly nodes: ApiNode[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async start(size = 1, api: FileApiServerOptions = {}): Promise<InProcessCluster> {
    const c = new InProcessCluster(mkdtempSync(path.join(os.tmpdir(), "pickbox-fileapi-")));
    const ports = await freePorts(size * 2);
    for (let i = 0; i < size; i++) {
      const raftPort = ports[i * 2]!;
      const o = testNodeOptions({
        nodeId: `node${i + 1}`,
        dataDir: c.dir,
        raftPort,
        adminPort: ports[i * 2 + 1]!,
        join: i === 0 ? null : `127.0.0.1:${ports[0]}`,
      });
      const node = new PickboxNode(o);
      await node.start();
      if (i === 0) await waitFor("a leader", () => node.raft.isLeader, 10_000);
      const backend = backendFor(node);
      const server = await startFileApi(backend, { port: 0, ...api });
      c.nodes.push({ node, api: server, backend, raftPort });
    }
    if (size > 1) {
      await waitFor(
        "every node to join",
        () => c.nodes[0]!.node.raft.members().voters.length === size,
        20_000,
      );
      await waitFor(
        "every node to know the leader",
        () => c.nodes.every((n) => n.node.raft.leader !== null),
        20_000,
      );
    }
    return c;
  }

  address(i = 0): string {
    return this.nodes[i]!.api.address;
  }

  leaderIndex(): number {
    return this.nodes.findIndex((n) => n.node.raft.isLeader);
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) {
      await n.api.close().catch(() => {});
      await n.node.stop().catch(() => {});
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
