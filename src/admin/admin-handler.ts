// What the admin server needs from a node. The node implements it; tests use a fake.
import type { AdminFileInfo, AdminStatus } from "./admin-status.ts";
import type { LegacyForwardCommand } from "./legacy-forward.ts";

export type { LegacyForwardCommand } from "./legacy-forward.ts";

export interface AdminHandler {
  isLeader(): boolean;
  /** Resolves once the configuration change is committed. Errors become `ERROR: <message>`. */
  addVoter(id: string, addr: string): Promise<void>;
  addLearner(id: string, addr: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Hands leadership to `id` (or the most up-to-date voter when null); returns the new leader id. */
  transfer(id: string | null): Promise<string>;
  /** Resolves once the change is applied on this (leader) node. */
  forward(cmd: LegacyForwardCommand): Promise<void>;
  status(): AdminStatus;
  /** Every member's own status as this node can gather it (members down carry an error). */
  cluster(): Promise<Record<string, unknown>[]>;
  files(prefix?: string): AdminFileInfo[];
  /** Calls `listener` for every node event until the returned function is called. */
  subscribe(listener: (event: Record<string, unknown>) => void): () => void;
}
