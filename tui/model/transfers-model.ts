// Large chunk transfers (the nodes' "transfer" progress events) as state and as progress-bar rows.
// Plain functions with the clock passed in: a finished transfer lingers a few seconds, then goes.
import { formatBytes } from "../format.ts";
import type { NodeEventLike, TransferItem, TuiState } from "./types.ts";

/** How long a transfer stays listed after it finished or failed. */
export const TRANSFER_LINGER_MS = 5000;
/** An active transfer with no news for this long is dropped (its node stopped half-way). */
export const TRANSFER_STALE_MS = 60_000;

export interface TransferRow {
  key: string;
  node: string;
  direction: "push" | "fetch";
  /** The file (with "+n" when a push carries several), or what is known instead of a name. */
  label: string;
  /** Where the bytes come from and go to: node names, or "n peers". */
  from: string;
  to: string;
  /** 0..1: by bytes when the total is known, else by chunks; 1 once done. */
  fraction: number;
  percent: string;
  /** "16 MiB/24 MiB", or only what moved while the total is unknown. */
  bytes: string;
  /** Average since the start, e.g. "8.0 MiB/s"; "-" before anything moved. */
  rate: string;
  state: TransferItem["state"];
  error: string | null;
}

export function transferKey(node: string, id: string): string {
  return `${node}|${id}`;
}

/** One progress event folded in; expired transfers are pruned at the same time. Malformed events change nothing. */
export function withTransferEvent(
  transfers: Record<string, TransferItem>,
  e: NodeEventLike,
  now: number,
): Record<string, TransferItem> {
  const kept = pruneTransfers(transfers, now);
  const t = parseTransfer(e);
  if (!t) return kept;
  const key = transferKey(t.node, t.id);
  const prev = kept[key];
  // After the final event, late or repeated ones (several subscriptions to one node) change nothing.
  if (prev && prev.state !== "active") return kept;
  const item: TransferItem = {
    ...t,
    key,
    // Events can arrive out of order through different streams: progress never goes backwards.
    bytesDone: Math.max(prev?.bytesDone ?? 0, t.bytesDone),
    bytesTotal: t.bytesTotal ?? prev?.bytesTotal ?? null,
    chunksDone: Math.max(prev?.chunksDone ?? 0, t.chunksDone),
    elapsedMs: Math.max(prev?.elapsedMs ?? 0, t.elapsedMs),
    firstSeen: prev?.firstSeen ?? now,
    lastSeen: now,
    endedAt: t.state === "active" ? null : now,
  };
  return { ...kept, [key]: item };
}

/** Without transfers that ended more than TRANSFER_LINGER_MS ago or went silent; the same object if none did. */
export function pruneTransfers(
  transfers: Record<string, TransferItem>,
  now: number,
): Record<string, TransferItem> {
  const keys = Object.keys(transfers);
  const live = keys.filter((k) => !expired(transfers[k]!, now));
  if (live.length === keys.length) return transfers;
  return Object.fromEntries(live.map((k) => [k, transfers[k]!]));
}

function expired(t: TransferItem, now: number): boolean {
  return t.endedAt !== null ? now - t.endedAt > TRANSFER_LINGER_MS : now - t.lastSeen > TRANSFER_STALE_MS;
}

/** Rows to draw at `now`: active transfers first (oldest first), then those just ended (latest first). */
export function transfersModel(s: TuiState, now: number, filter = ""): TransferRow[] {
  const needle = filter.toLowerCase();
  const items = Object.values(s.transfers).filter((t) => {
    if (expired(t, now)) return false;
    if (!needle) return true;
    return [t.path ?? "", t.node, ...t.peers].some((x) => x.toLowerCase().includes(needle));
  });
  items.sort((a, b) => {
    if ((a.endedAt === null) !== (b.endedAt === null)) return a.endedAt === null ? -1 : 1;
    if (a.endedAt !== null && b.endedAt !== null) return b.endedAt - a.endedAt;
    return a.firstSeen - b.firstSeen;
  });
  return items.map(transferRow);
}

export function transferRow(t: TransferItem): TransferRow {
  const fraction = transferFraction(t);
  const others = t.peers.length === 1 ? t.peers[0]! : t.peers.length === 0 ? "?" : `${t.peers.length} peers`;
  return {
    key: t.key,
    node: t.node,
    direction: t.direction,
    label: transferLabel(t),
    from: t.direction === "push" ? t.node : others,
    to: t.direction === "push" ? others : t.node,
    fraction,
    percent: `${Math.floor(fraction * 100)}%`,
    bytes:
      t.bytesTotal === null
        ? formatBytes(t.bytesDone)
        : `${formatBytes(t.bytesDone)}/${formatBytes(t.bytesTotal)}`,
    rate: t.elapsedMs > 0 && t.bytesDone > 0 ? `${formatBytes((t.bytesDone * 1000) / t.elapsedMs)}/s` : "-",
    state: t.state,
    error: t.error,
  };
}

function transferFraction(t: TransferItem): number {
  if (t.state === "done") return 1;
  if (t.bytesTotal !== null) return t.bytesTotal > 0 ? Math.min(1, t.bytesDone / t.bytesTotal) : 0;
  return t.chunksTotal > 0 ? Math.min(1, t.chunksDone / t.chunksTotal) : 0;
}

function transferLabel(t: TransferItem): string {
  if (t.path !== null) return t.files > 1 ? `${t.path} +${t.files - 1}` : t.path;
  if (t.files > 1) return `${t.files} files`;
  return `${t.chunksTotal} chunk${t.chunksTotal === 1 ? "" : "s"}`;
}

type ParsedTransfer = Omit<TransferItem, "key" | "firstSeen" | "lastSeen" | "endedAt">;

/** The event's fields checked one by one (it may come from any node version over the wire). */
function parseTransfer(e: NodeEventLike): ParsedTransfer | null {
  if (e.type !== "transfer") return null;
  const { node, id, direction, state } = e;
  if (typeof node !== "string" || typeof id !== "string") return null;
  if (direction !== "push" && direction !== "fetch") return null;
  if (state !== "active" && state !== "done" && state !== "failed") return null;
  const bytesDone = count(e.bytesDone);
  const chunksDone = count(e.chunksDone);
  const chunksTotal = count(e.chunksTotal);
  if (bytesDone === null || chunksDone === null || chunksTotal === null) return null;
  const bytesTotal = e.bytesTotal === null || e.bytesTotal === undefined ? null : count(e.bytesTotal);
  if (bytesTotal === null && e.bytesTotal !== null && e.bytesTotal !== undefined) return null;
  return {
    node,
    id,
    direction,
    path: typeof e.path === "string" ? e.path : null,
    files: count(e.files) ?? 0,
    peers: Array.isArray(e.peers) ? e.peers.filter((p): p is string => typeof p === "string") : [],
    bytesDone,
    bytesTotal,
    chunksDone,
    chunksTotal,
    elapsedMs: count(e.elapsedMs) ?? 0,
    state,
    error: typeof e.error === "string" ? e.error : null,
  };
}

function count(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null;
}
