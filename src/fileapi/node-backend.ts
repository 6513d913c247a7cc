// The file API's view of a PickboxNode. The two hooks are the node's private forwarder and chunk push;
// the node passes them when it starts the server (see the wiring in PickboxNode.start()).
import path from "node:path";
import type { PickboxNode } from "../node/pickbox-node.ts";
import type { Chunk } from "../store/chunker.ts";
import { commandPaths } from "../store/commands.ts";
import type { IndexEntry } from "../store/file-index.ts";
import type { BackendInfo, FileApiBackend } from "./backend.ts";

/** One ReadIndex attempt; a lost request is retried after this long. */
const BARRIER_ATTEMPT_MS = 1000;

/** `a` and `b` are the same path, or one lies inside the other. */
function related(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

export interface NodeFileApiHooks {
  /** Forwarder.propose: commits from any node, acknowledged after apply on the leader and here. */
  propose(data: Uint8Array): Promise<{ index: number; result: unknown }>;
  /** Stores chunks on a quorum before an entry naming them is proposed. */
  pushChunks(hashes: string[]): Promise<void>;
}

export class NodeFileApiBackend implements FileApiBackend {
  readonly nodeId: string;
  readonly spoolDir: string;

  constructor(
    private readonly node: PickboxNode,
    private readonly hooks: NodeFileApiHooks,
  ) {
    this.nodeId = node.options.nodeId;
    this.spoolDir = path.join(node.stateDir, "tmp", "fileapi");
  }

  async propose(data: Uint8Array): Promise<unknown> {
    return (await this.hooks.propose(data)).result;
  }

  /**
   * With a path, waits only for the committed-but-unapplied entries that can change it (its own entry,
   * an ancestor or descendant, a conflict copy), not for a whole batch of other files being applied:
   * what is read of that path afterwards is as linearizable as after a full barrier.
   */
  async readBarrier(timeoutMs = 5000, p?: string): Promise<void> {
    const raft = this.node.raft;
    if (p === undefined) return raft.waitApplied(await this.readIndex(timeoutMs));
    const upTo = await this.readIndex(timeoutMs);
    const pending = p.includes(".sync-conflict-") ? null : raft.unappliedEntries(upTo);
    if (pending === null) return raft.waitApplied(upTo);
    let last = 0;
    for (const e of pending)
      if (e.data.length > 0 && this.pathsOf(e).some((q) => related(q, p))) last = e.index;
    if (last > 0) await raft.waitApplied(last);
  }

  /** Paths of an entry, decoded once (entries wait in the apply queue while many reads look at them). */
  private pathsOf(e: { index: number; data: Uint8Array }): string[] {
    let paths = this.entryPaths.get(e.index);
    if (!paths) {
      paths = commandPaths(e.data);
      this.entryPaths.set(e.index, paths);
      const applied = this.node.raft.appliedIndex;
      if (this.entryPaths.size > 1024)
        for (const k of this.entryPaths.keys()) if (k <= applied) this.entryPaths.delete(k);
    }
    return paths;
  }

  private readonly entryPaths = new Map<number, string[]>();

  /**
   * ReadIndex, retried in short attempts until `timeoutMs`: a follower that knows no leader yet (or whose
   * request was lost in a leader change) drops the request silently, so one long attempt would just wait.
   * Retrying is safe: a read index request changes nothing.
   */
  private async readIndex(timeoutMs: number): Promise<number> {
    const raft = this.node.raft;
    const deadline = Date.now() + timeoutMs;
    let last: unknown = null;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (raft.leader === null) {
        await new Promise((r) => setTimeout(r, Math.min(20, left)));
        continue;
      }
      try {
        return await raft.readIndex(Math.min(BARRIER_ATTEMPT_MS, left));
      } catch (e) {
        last = e;
        if (/stopped/.test(String(e))) break;
      }
    }
    throw new Error(`read index timed out (${last ? String(last) : "no leader known"})`);
  }

  onApplied(listener: (data: Uint8Array, result: unknown) => void): () => void {
    const fn = (e: { data: Uint8Array }, result: unknown) => listener(e.data, result);
    this.node.raft.on("applied", fn);
    return () => this.node.raft.off("applied", fn);
  }

  getEntry(p: string): IndexEntry | undefined {
    return this.node.index.get(p);
  }

  listEntries(prefix: string): IndexEntry[] {
    return prefix ? this.node.index.list({ prefix }) : this.node.index.list();
  }

  hasChunk(hash: string): boolean {
    return this.node.index.isChunkReferenced(hash);
  }

  readChunk(hash: string): Promise<Uint8Array | null> {
    return this.node.chunks.get(hash);
  }

  chunkSize(hash: string): number | null {
    return this.node.chunks.sizeOf(hash);
  }

  storeChunks(chunks: Chunk[]): Promise<void> {
    return this.node.chunks.putMany(chunks);
  }

  replicateChunks(hashes: string[]): Promise<void> {
    return this.hooks.pushChunks(hashes);
  }

  info(): BackendInfo {
    const st = this.node.raft.status();
    return {
      nodeId: this.nodeId,
      role: st.role,
      leader: st.leader,
      term: st.term,
      commit: st.commit,
      applied: this.node.raft.appliedIndex,
    };
  }
}
