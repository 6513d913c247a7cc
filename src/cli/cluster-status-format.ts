// Text rendering of a ClusterView: a headline with the verdict, one table row per member, then the problems.
import { type ClusterView, formatMs, type MemberView } from "./cluster-status.ts";

const HEALTH_MARK: Record<ClusterView["health"], string> = {
  healthy: "✅",
  degraded: "⚠️ ",
  unavailable: "❌",
};

const COLUMNS: { title: string; cell: (m: MemberView) => string; right?: boolean }[] = [
  { title: "NODE", cell: (m) => m.id },
  { title: "ROLE", cell: (m) => m.role ?? "-" },
  { title: "MEMBER", cell: (m) => (m.voter ? "voter" : "learner") },
  { title: "RAFT", cell: (m) => m.address || "-" },
  { title: "ADMIN", cell: (m) => m.adminAddress ?? "-" },
  { title: "TERM", cell: (m) => num(m.term), right: true },
  { title: "COMMIT", cell: (m) => num(m.commit), right: true },
  { title: "APPLIED", cell: (m) => num(m.applied), right: true },
  { title: "LAST", cell: (m) => num(m.lastIndex), right: true },
  { title: "MATCH", cell: (m) => num(m.match), right: true },
  { title: "LAG", cell: (m) => num(m.lag), right: true },
  { title: "CONTACT", cell: (m) => formatMs(m.lastContactMs), right: true },
  { title: "FILES", cell: (m) => num(m.files), right: true },
  { title: "HEALTH", cell: (m) => m.health },
];

function num(n: number | null): string {
  return n === null ? "-" : String(n);
}

/** One line: `✅ healthy: leader node1 (term 2) · 5 voters (5 up, quorum 3) · 15 learners`. */
export function formatHeadline(v: ClusterView): string {
  const leader = v.leader ? `leader ${v.leader} (term ${v.term})` : "no leader";
  const voters = `${v.voters} voter${v.voters === 1 ? "" : "s"} (${v.votersUp} up, quorum ${v.quorum})`;
  const learners = `${v.learners} learner${v.learners === 1 ? "" : "s"}`;
  return `${HEALTH_MARK[v.health]} ${v.health}: ${leader} · ${voters} · ${learners}`;
}

/** The member table, columns padded to their widest cell. */
export function formatMemberTable(members: MemberView[]): string {
  const rows = [COLUMNS.map((c) => c.title), ...members.map((m) => COLUMNS.map((c) => c.cell(m)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (COLUMNS[i]!.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Everything `pickbox cluster status` prints. */
export function formatClusterView(v: ClusterView): string {
  const lines = [`Cluster status via ${v.via}`, formatHeadline(v), "", formatMemberTable(v.members)];
  if (v.problems.length > 0) {
    lines.push("", "Problems:", ...v.problems.map((p) => `  - ${p}`));
  }
  return `${lines.join("\n")}\n`;
}
