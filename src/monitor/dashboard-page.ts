import { formatLocalDateTime } from "./go-format.ts";

/** Escape for HTML text and attribute values (the only data the server puts in markup). */
export function escapeHtml(s: string): string {
  return s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/**
 * The page shell. Everything live is filled in by /static/dashboard.js from /api/cluster with
 * textContent; the only server-side data here is the node id and render time, escaped.
 */
export function dashboardPage(nodeId: string, now: number): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pickbox Distributed Storage - Dashboard</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Pickbox Distributed Storage</h1>
  <div class="sub">Node: <span id="served-by">${escapeHtml(nodeId)}</span> · rendered ${escapeHtml(formatLocalDateTime(now))} · <span id="updated">connecting…</span></div>
  <div id="error" class="error" hidden>Failed to fetch cluster metrics</div>
</header>
<main>
<section class="cards">
  <div class="card">
    <h2>Cluster Health</h2>
    <dl>
      <dt>State</dt><dd id="state">-</dd>
      <dt>Leader</dt><dd id="leader">-</dd>
      <dt>Peers</dt><dd id="peers">-</dd>
      <dt>Last log index</dt><dd id="last-log-index">-</dd>
    </dl>
  </div>
  <div class="card">
    <h2>Replication Metrics</h2>
    <dl>
      <dt>Files replicated</dt><dd id="files-replicated">-</dd>
      <dt>Bytes replicated</dt><dd id="bytes-replicated">-</dd>
      <dt>Avg replication</dt><dd id="avg-replication">-</dd>
      <dt>Error rate</dt><dd id="error-rate">-</dd>
    </dl>
  </div>
  <div class="card">
    <h2>System Resources</h2>
    <dl>
      <dt>Memory (RSS)</dt><dd id="memory">-</dd>
      <dt>Uptime</dt><dd id="uptime">-</dd>
      <dt>Last replication</dt><dd id="last-replication">-</dd>
      <dt>Conflicts</dt><dd id="conflict-count">-</dd>
    </dl>
  </div>
  <div class="card">
    <h2>Cluster Status</h2>
    <p><span id="status-light" class="light"></span><span id="status-text">-</span></p>
    <ul id="node-list"></ul>
  </div>
</section>
<section class="panel">
  <h2>Nodes</h2>
  <table id="nodes">
    <thead><tr><th>Node</th><th>State</th><th>Term</th><th>Address</th><th>Commit</th><th>Applied</th><th>Lag</th><th>Last contact</th><th>Files</th><th>Bytes</th><th>Uptime</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section class="panel">
  <h2>Replication latency (detected → applied on this node)</h2>
  <div id="latency-summary">-</div>
  <canvas id="latency-chart" width="900" height="180"></canvas>
</section>
<section class="panel half">
  <h2>Recent replication events</h2>
  <table id="events">
    <thead><tr><th>Time</th><th>Event</th><th>Path</th><th>Origin</th><th>Size</th><th>Latency</th><th>Index</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section class="panel half">
  <h2>Conflicts</h2>
  <table id="conflicts">
    <thead><tr><th>Time</th><th>Path</th><th>Copy written as</th><th>Origin</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
</main>
</body>
</html>
`;
}
