// What the file API needs from a node. PickboxNode provides it through NodeFileApiBackend
// (node-backend.ts); tests may provide their own.
import type { Chunk } from "../store/chunker.ts";
import type { IndexEntry } from "../store/file-index.ts";

export interface FileApiBackend {
  /** This node's id: the origin of the commands it proposes. */
  readonly nodeId: string;
  /** A directory on the node's own disk for write spools (e.g. <folder>/.pickbox/tmp/fileapi). */
  readonly spoolDir: string;
  /** Proposes an encoded command from this node (forwarded to the leader when needed); resolves with
   * the state machine's result once the entry is applied on this node. May apply it more than once
   * after a retry (duplicates are why onApplied exists). */
  propose(data: Uint8Array): Promise<unknown>;
  /** Linearizable barrier (ReadIndex): resolves once this node has applied everything committed before;
   * with `path`, everything committed before that can change that path (enough to read it). */
  readBarrier(timeoutMs?: number, path?: string): Promise<void>;
  /** Every entry applied on this node, in log order, with the state machine's result. */
  onApplied(listener: (data: Uint8Array, result: unknown) => void): () => void;
  /** The index entry of a path (tombstones included), as this node last applied it. */
  getEntry(path: string): IndexEntry | undefined;
  /** Live entries whose path starts with `prefix` (all when empty), in path order. */
  listEntries(prefix: string): IndexEntry[];
  /** True when the chunk is known to be replicated (a committed file refers to it), so a new version
   * naming it need not carry or push its bytes. Being in this node's store alone is not enough. */
  hasChunk(hash: string): boolean;
  /** Verified bytes of a stored chunk, or null when this node does not have it. */
  readChunk(hash: string): Promise<Uint8Array | null>;
  /** Size in bytes of a stored chunk, or null when this node does not have it. */
  chunkSize(hash: string): number | null;
  /** Stores chunks durably on this node. */
  storeChunks(chunks: Chunk[]): Promise<void>;
  /** Makes chunks stored here durable on a quorum before a command naming them is proposed. */
  replicateChunks(hashes: string[]): Promise<void>;
  /** Who we are in the cluster, for INFO. */
  info(): BackendInfo;
}

export interface BackendInfo {
  nodeId: string;
  role: string;
  leader: string | null;
  term: number;
  applied: number;
  commit: number;
}
