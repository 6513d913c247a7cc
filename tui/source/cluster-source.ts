// The polling/streaming engine both data sources share: cluster status every pollMs, one SUBSCRIBE
// stream per reachable member, and each member's file list (periodically, and soon after it applies
// something, so convergence shows within a fraction of a second).
import { adminRequest, subscribe } from "../../src/admin/admin-client.ts";
import type { ClusterMemberStatus, FileEntry, NodeEventLike } from "../model/types.ts";
import { memberAdminAddress, parseFilesReply } from "./admin-parse.ts";
import type { TuiDataSource, TuiSink } from "./data-source.ts";

/** How the engine reaches members' admin ports (real client by default; tests may wrap it). */
export interface AdminAccess {
  request(addr: string, line: string, timeoutMs: number): Promise<string>;
  subscribe(
    addr: string,
    onEvent: (e: Record<string, unknown>) => void,
    onClose: () => void,
  ): { close(): void };
}

export function realAdminAccess(secret?: string): AdminAccess {
  return {
    request: (addr, line, timeoutMs) => adminRequest(addr, line, { timeoutMs, secret }),
    subscribe: (addr, onEvent, onClose) =>
      subscribe(addr, onEvent, { secret, onClose, onError: () => {}, connectTimeoutMs: 3000 }),
  };
}

/** The member this process is (in-process mode): read directly, no network. */
export interface LocalMember {
  id: string;
  files(): FileEntry[];
  subscribe(listener: (e: NodeEventLike) => void): () => void;
}

export interface ClusterBackend {
  readonly mode: "attach" | "in-process";
  readonly via: string;
  /** Membership and every member's status; throws when the cluster cannot be reached. */
  fetchCluster(): Promise<{ members: ClusterMemberStatus[]; self: string | null; via: string }>;
  local?: LocalMember;
  /** Extra feeds (e.g. the node's log file); returns how to stop them. */
  startExtras?(sink: TuiSink): () => void;
}

export interface ClusterSourceOptions {
  admin?: AdminAccess;
  pollMs?: number;
  /** Refresh every member's file list at least this often. */
  filesEveryMs?: number;
  /** After a member applies something, fetch its files this soon (coalescing a burst). */
  filesAfterEventMs?: number;
  requestTimeoutMs?: number;
}

interface RemoteMember {
  address: string;
  sub: { close(): void } | null;
  filesInFlight: boolean;
  filesAt: number;
  dirtyTimer: ReturnType<typeof setTimeout> | null;
  down: boolean;
}

const FILE_EVENTS = new Set(["apply", "delete", "conflict", "restore", "local-edit-preserved"]);

export class ClusterSource implements TuiDataSource {
  readonly mode: "attach" | "in-process";
  readonly via: string;
  private sink: TuiSink | null = null;
  private readonly admin: AdminAccess;
  private readonly pollMs: number;
  private readonly filesEveryMs: number;
  private readonly filesAfterEventMs: number;
  private readonly timeoutMs: number;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private polling = false;
  private stopped = false;
  private readonly remotes = new Map<string, RemoteMember>();
  private localUnsub: (() => void) | null = null;
  private localFilesTimer: ReturnType<typeof setTimeout> | null = null;
  private localFilesAt = 0;
  private stopExtras: (() => void) | null = null;

  constructor(
    private readonly backend: ClusterBackend,
    o: ClusterSourceOptions = {},
  ) {
    this.mode = backend.mode;
    this.via = backend.via;
    this.admin = o.admin ?? realAdminAccess();
    this.pollMs = o.pollMs ?? 1000;
    this.filesEveryMs = o.filesEveryMs ?? 3000;
    this.filesAfterEventMs = o.filesAfterEventMs ?? 150;
    this.timeoutMs = o.requestTimeoutMs ?? 4000;
  }

  start(sink: TuiSink): void {
    this.sink = sink;
    const local = this.backend.local;
    if (local) {
      this.localUnsub = local.subscribe((e) => {
        sink.event(e);
        if (FILE_EVENTS.has(e.type)) this.scheduleLocalFiles();
      });
      this.refreshLocalFiles();
    }
    this.stopExtras = this.backend.startExtras?.(sink) ?? null;
    void this.poll();
    this.pollTimer = setInterval(() => void this.poll(), this.pollMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.localFilesTimer) clearTimeout(this.localFilesTimer);
    this.localUnsub?.();
    this.stopExtras?.();
    for (const r of this.remotes.values()) this.dropRemote(r);
    this.remotes.clear();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped || !this.sink) return;
    this.polling = true;
    try {
      const { members, self, via } = await this.backend.fetchCluster();
      if (this.stopped) return;
      this.sink.cluster(members, self, via);
      this.reconcile(members);
    } catch (err) {
      if (!this.stopped) this.sink.clusterError(message(err));
    } finally {
      this.polling = false;
    }
  }

  private reconcile(members: ClusterMemberStatus[]): void {
    const sink = this.sink!;
    const now = Date.now();
    const seen = new Set<string>();
    for (const m of members) {
      seen.add(m.id);
      if (this.backend.local && m.id === this.backend.local.id) {
        if (now - this.localFilesAt >= this.filesEveryMs) this.refreshLocalFiles();
        continue;
      }
      const address = memberAdminAddress(m);
      let r = this.remotes.get(m.id);
      if (!m.status || !address) {
        // Down (or unknown address): its old list would pretend to be current.
        if (r && !r.down) {
          r.down = true;
          this.dropRemote(r);
        }
        if (!r) {
          r = newRemote(address ?? "");
          r.down = true;
          this.remotes.set(m.id, r);
        }
        sink.files(m.id, null, m.error ?? "unreachable");
        continue;
      }
      if (r && r.address !== address) {
        this.dropRemote(r);
        r = undefined;
      }
      if (!r) {
        r = newRemote(address);
        this.remotes.set(m.id, r);
      }
      r.down = false;
      if (!r.sub) this.openSubscription(m.id, r);
      if (now - r.filesAt >= this.filesEveryMs) void this.fetchFiles(m.id, r);
    }
    for (const [id, r] of this.remotes) {
      if (seen.has(id)) continue;
      this.dropRemote(r);
      this.remotes.delete(id);
    }
  }

  private openSubscription(id: string, r: RemoteMember): void {
    const sub = this.admin.subscribe(
      r.address,
      (e) => {
        if (this.stopped || e.type === "hello" || typeof e.type !== "string") return;
        this.sink?.event(e as NodeEventLike);
        if (FILE_EVENTS.has(e.type)) this.scheduleFiles(id, r);
      },
      () => {
        // Closed (member stopped, or network): the next poll reopens it while the member is up.
        if (r.sub === sub) r.sub = null;
      },
    );
    r.sub = sub;
  }

  private scheduleFiles(id: string, r: RemoteMember): void {
    if (r.dirtyTimer || this.stopped) return;
    r.dirtyTimer = setTimeout(() => {
      r.dirtyTimer = null;
      void this.fetchFiles(id, r);
    }, this.filesAfterEventMs);
  }

  private async fetchFiles(id: string, r: RemoteMember): Promise<void> {
    if (r.filesInFlight) {
      // A newer change arrived during the fetch: look again afterwards.
      this.scheduleFiles(id, r);
      return;
    }
    r.filesInFlight = true;
    r.filesAt = Date.now();
    try {
      const reply = await this.admin.request(r.address, "FILES", this.timeoutMs);
      if (!this.stopped && !r.down) this.sink?.files(id, parseFilesReply(reply), null);
    } catch (err) {
      if (!this.stopped) this.sink?.files(id, null, message(err));
    } finally {
      r.filesInFlight = false;
    }
  }

  private scheduleLocalFiles(): void {
    if (this.localFilesTimer || this.stopped) return;
    this.localFilesTimer = setTimeout(() => {
      this.localFilesTimer = null;
      this.refreshLocalFiles();
    }, this.filesAfterEventMs);
  }

  private refreshLocalFiles(): void {
    const local = this.backend.local;
    if (!local || this.stopped) return;
    this.localFilesAt = Date.now();
    try {
      this.sink?.files(local.id, local.files(), null);
    } catch (err) {
      this.sink?.files(local.id, null, message(err));
    }
  }

  private dropRemote(r: RemoteMember): void {
    r.sub?.close();
    r.sub = null;
    if (r.dirtyTimer) clearTimeout(r.dirtyTimer);
    r.dirtyTimer = null;
  }
}

function newRemote(address: string): RemoteMember {
  return { address, sub: null, filesInFlight: false, filesAt: 0, dirtyTimer: null, down: false };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
