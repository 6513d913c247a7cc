import type { Logger } from "../node/logger.ts";
import type { ReplicationEvent } from "./replication-stats.ts";

type Log = Pick<Logger, "info" | "warn">;

/**
 * One structured line per replication event in the node's log (pino adds node, time and level):
 * term, index, path, op, latency (detected on the origin → applied here) and apply time, in ms.
 */
export function logReplicationEvent(log: Log, ev: ReplicationEvent, term: number): void {
  const fields: Record<string, unknown> = {
    event: ev.type,
    term,
    index: ev.index,
    path: ev.path,
    op: ev.op,
    origin: ev.origin,
    latencyMs: ev.latencyMs === null ? null : Math.round(ev.latencyMs * 1000) / 1000,
    applyMs: ev.applyMs,
  };
  switch (ev.type) {
    case "apply":
      log.info({ ...fields, size: ev.size }, "applied");
      return;
    case "conflict":
      log.info(
        { ...fields, size: ev.size, conflictPath: ev.conflictPath },
        "conflict: later edit kept as a copy",
      );
      return;
    case "delete":
      log.info(fields, "deleted");
      return;
    case "rejected":
      log.warn({ ...fields, detail: ev.detail }, "command rejected by the state machine");
      return;
    case "restore":
      log.info({ ...fields, files: ev.size }, "restored from snapshot");
      return;
  }
}
