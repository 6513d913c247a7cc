// Where the TUI's data comes from. Two implementations share ClusterSource: attach (admin protocol to a
// running cluster) and in-process (the PickboxNode this process runs). Neither knows anything of Ink.
import type { ClusterMemberStatus, FileEntry, LogLevel, NodeEventLike } from "../model/types.ts";

/** What a source reports; the store turns each call into new state. */
export interface TuiSink {
  cluster(members: ClusterMemberStatus[], self: string | null, via: string): void;
  clusterError(message: string): void;
  files(node: string, entries: FileEntry[] | null, error: string | null): void;
  event(e: NodeEventLike): void;
  /** `at`: when it happened, if the line says (default: now). */
  log(level: LogLevel, node: string | null, msg: string, at?: number | null): void;
}

export interface TuiDataSource {
  readonly mode: "attach" | "in-process";
  /** A short description of how the data is reached, e.g. "admin 127.0.0.1:9001". */
  readonly via: string;
  start(sink: TuiSink): void;
  stop(): Promise<void>;
}
