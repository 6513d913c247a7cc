/**
 * /static/dashboard.js: polls /api/cluster once a second (the next poll starts after the previous
 * answer) and renders it. Every piece of data goes through textContent or setAttribute (never
 * innerHTML), so file names and member addresses show literally; the original's stored XSS is gone.
 */
export const DASHBOARD_SCRIPT = `"use strict";
(function () {
  var POLL_MS = 1000;
  var polls = 0;

  function $(id) { return document.getElementById(id); }
  function text(id, v) { var e = $(id); if (e) e.textContent = v === null || v === undefined ? "-" : String(v); }
  function cell(tr, v, cls) {
    var td = document.createElement("td");
    td.textContent = v === null || v === undefined ? "-" : String(v);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function bytes(n) {
    if (n === null || n === undefined) return "-";
    var units = ["B", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(2)) + " " + units[i];
  }
  function ms(n) {
    if (n === null || n === undefined) return "-";
    return n < 10 ? n.toFixed(1) + " ms" : Math.round(n) + " ms";
  }
  function clock(epochMs) {
    var d = new Date(epochMs);
    function p(x) { return (x < 10 ? "0" : "") + x; }
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function stateClass(state) { return "state-" + (state === "Leader" || state === "Follower" ? state : state ? "Candidate" : "down"); }

  function renderCards(data) {
    var h = data.health, m = data.metrics, s = data.summary;
    var st = $("state");
    st.textContent = h.state;
    st.className = stateClass(h.state);
    text("leader", h.leader || "None");
    text("peers", (h.peers || []).length);
    text("last-log-index", h.last_log_index);
    text("files-replicated", m.files_replicated);
    text("bytes-replicated", bytes(m.bytes_replicated));
    text("avg-replication", m.avg_replication_time_ms + " ms");
    text("error-rate", (m.replication_errors / Math.max(m.files_replicated, 1) * 100).toFixed(2) + "%");
    text("memory", bytes(m.memory_usage_bytes));
    text("uptime", m.uptime);
    text("last-replication", m.last_replication_time === "never" ? "Never" : m.last_replication_time);
    text("conflict-count", data.conflicts.length);
    var up = data.members.filter(function (x) { return x.up; }).length;
    var healthy = (h.state === "Leader" || h.state === "Follower") && h.leader !== "";
    $("status-light").className = "light " + (healthy ? "ok" : "bad");
    text("status-text", healthy
      ? "Cluster is healthy and operational (" + up + " of " + s.total_nodes + " nodes up)"
      : "Cluster requires attention - check connectivity");
    var list = $("node-list");
    clear(list);
    data.members.forEach(function (x) {
      var li = document.createElement("li");
      li.setAttribute("data-node", x.id);
      li.textContent = x.id + " (" + x.address + ") " + (x.up ? x.state : "down");
      list.appendChild(li);
    });
  }

  function renderNodes(members) {
    var body = $("nodes").tBodies[0];
    clear(body);
    members.forEach(function (x) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-node", x.id);
      if (!x.up) tr.className = "down";
      cell(tr, x.id + (x.voter ? "" : " (learner)"));
      if (x.up) cell(tr, x.state, stateClass(x.state)); else cell(tr, "down", "state-down").title = x.error || "";
      cell(tr, x.term);
      cell(tr, x.address);
      cell(tr, x.commit);
      cell(tr, x.applied);
      cell(tr, x.lag);
      cell(tr, x.lastContactMs === null ? null : x.lastContactMs + " ms");
      cell(tr, x.files);
      cell(tr, bytes(x.bytes));
      cell(tr, x.uptime);
      body.appendChild(tr);
    });
  }

  function renderEvents(events) {
    var body = $("events").tBodies[0];
    clear(body);
    events.forEach(function (e) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-event", e.type);
      cell(tr, clock(e.at));
      cell(tr, e.type === "apply" ? e.op : e.type);
      cell(tr, e.path, "path");
      cell(tr, e.origin);
      cell(tr, e.type === "apply" || e.type === "conflict" ? bytes(e.size) : null);
      cell(tr, ms(e.latencyMs));
      cell(tr, e.index);
      body.appendChild(tr);
    });
  }

  function renderConflicts(conflicts) {
    var body = $("conflicts").tBodies[0];
    clear(body);
    conflicts.forEach(function (e) {
      var tr = document.createElement("tr");
      cell(tr, clock(e.at));
      cell(tr, e.path, "path");
      cell(tr, e.conflictPath, "path");
      cell(tr, e.origin);
      body.appendChild(tr);
    });
  }

  function renderLatency(lat) {
    text("latency-summary", lat.count === 0
      ? "No files applied yet"
      : "last " + lat.count + " files: p50 " + ms(lat.p50) + ", p95 " + ms(lat.p95) + ", p99 " + ms(lat.p99));
    var c = $("latency-chart");
    if (!c.getContext) return;
    var g = c.getContext("2d");
    var w = c.width, hgt = c.height, pad = 36;
    g.clearRect(0, 0, w, hgt);
    var max = 10;
    lat.samples.forEach(function (s) { if (s.ms > max) max = s.ms; });
    g.strokeStyle = "#c9d1dc";
    g.fillStyle = "#5b6b7c";
    g.font = "11px sans-serif";
    g.beginPath(); g.moveTo(pad, 6); g.lineTo(pad, hgt - 16); g.lineTo(w - 4, hgt - 16); g.stroke();
    g.fillText(ms(max), 2, 14);
    g.fillText("0", 2, hgt - 16);
    var n = lat.samples.length;
    if (n === 0) return;
    var bw = Math.max(1, (w - pad - 8) / Math.max(n, 30));
    g.fillStyle = "#1f5fbf";
    lat.samples.forEach(function (s, i) {
      var bh = Math.max(1, (s.ms / max) * (hgt - 26));
      g.fillRect(pad + 2 + i * bw, hgt - 16 - bh, Math.max(1, bw - 1), bh);
    });
  }

  function render(data) {
    renderCards(data);
    renderNodes(data.members);
    renderEvents(data.events);
    renderConflicts(data.conflicts);
    renderLatency(data.latency);
    text("served-by", data.served_by);
    text("updated", "updated " + clock(Date.now()));
  }

  function poll() {
    fetch("/api/cluster", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        render(data);
        $("error").hidden = true;
      })
      .catch(function () {
        $("error").hidden = false;
      })
      .then(function () {
        polls++;
        document.body.setAttribute("data-polls", String(polls));
        setTimeout(poll, POLL_MS);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", poll);
  else poll();
})();
`;
