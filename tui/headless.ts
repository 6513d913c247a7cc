// Without a terminal (no raw mode: piped, under a service manager, in CI) the TUI prints plain lines
// instead: every event, log line and leader change, one per line. Never crashes for lack of a TTY.

import { clockTime, formatBytes } from "./format.ts";
import { eventLatency, leaderStatus } from "./model/tui-state.ts";
import type { ClusterMemberStatus, FileEntry, LogLevel, NodeEventLike } from "./model/types.ts";
import type { TuiSink } from "./source/data-source.ts";

export function headlessSink(write: (line: string) => void, now: () => number = Date.now): TuiSink {
  let leader: string | null = null;
  let term = -1;
  let lastError: string | null = null;
  const down = new Set<string>();
  const out = (text: string) => write(`${clockTime(now())} ${text}\n`);
  return {
    cluster(members: ClusterMemberStatus[], self: string | null, via: string) {
      lastError = null;
      const l = leaderStatus(members);
      if (l && (l.node !== leader || l.term !== term)) {
        leader = l.node;
        term = l.term;
        out(
          `cluster via ${via} (${self ?? "?"}): ${members.length} members, leader ${l.node}, term ${l.term}`,
        );
      } else if (!l && leader !== "") {
        leader = "";
        out(`cluster via ${via} (${self ?? "?"}): ${members.length} members, no leader`);
      }
      for (const m of members) {
        if (!m.status && !down.has(m.id)) {
          down.add(m.id);
          out(`${m.id} unreachable: ${m.error ?? "no answer"}`);
        } else if (m.status && down.delete(m.id)) out(`${m.id} reachable again`);
      }
    },
    clusterError(message: string) {
      if (message !== lastError) out(`error: ${message}`);
      lastError = message;
    },
    files(_node: string, _entries: FileEntry[] | null) {},
    event(e: NodeEventLike) {
      const node = typeof e.node === "string" ? e.node : "?";
      if (e.type === "role") return out(`${node} is ${String(e.role)}`);
      if (e.type === "members")
        return out(`${node} sees members ${JSON.stringify({ voters: e.voters, learners: e.learners })}`);
      if (e.type === "skip" && e.reason === "noop") return;
      const size = typeof e.size === "number" ? ` ${formatBytes(e.size)}` : "";
      const lat = eventLatency(e);
      const from = typeof e.origin === "string" ? ` from ${e.origin}` : "";
      const op = typeof e.op === "string" ? e.op : e.type;
      const extra = e.type === "conflict" ? ` CONFLICT copy ${String(e.conflictPath)}` : "";
      out(
        `${node} ${op} ${String(e.path ?? "")}${from}${size}${lat !== null ? ` ${Math.round(lat)}ms` : ""}${extra}`,
      );
    },
    log(level: LogLevel, node: string | null, msg: string) {
      out(`${level} ${node ? `${node}: ` : ""}${msg}`);
    },
  };
}
