/**
 * The alerts page: one HTML document with its style and script inline (no CDN, nothing fetched but /events), so it
 * works on an isolated network. The script keeps every alert it was sent, and redraws counts, timeline and table from
 * the filters; clicking an alert shows its evidence.
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>threatlens fleet</title>
<style>
  :root { --bg:#f6f7f9; --panel:#fff; --ink:#1d2330; --mute:#667085; --line:#e3e6eb;
          --critical:#b42318; --error:#e0592a; --warning:#d4a012; --notice:#4a78c2; }
  * { box-sizing: border-box; }
  body { margin:0; font:13px/1.4 system-ui, -apple-system, "DejaVu Sans", sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:center; gap:16px; padding:10px 18px; background:#1d2330; color:#fff; }
  header h1 { font-size:16px; margin:0; font-weight:600; }
  header .stat { color:#c9d1e0; } header .stat b { color:#fff; }
  #status { margin-left:auto; display:flex; align-items:center; gap:6px; }
  #status i { width:9px; height:9px; border-radius:50%; background:#999; display:inline-block; }
  #status.live i { background:#2fb344; } #status.down i { background:#d63939; }
  main { padding:14px 18px; display:grid; gap:14px; grid-template-columns: 1fr 1fr 1fr; }
  .panel { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px 12px; min-width:0; }
  .panel h2 { font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--mute); margin:0 0 8px; }
  .wide { grid-column: 1 / -1; }
  .filters { display:flex; flex-wrap:wrap; gap:10px; align-items:end; }
  .filters label { display:flex; flex-direction:column; font-size:11px; color:var(--mute); gap:2px; }
  select, input { font:inherit; padding:4px 6px; border:1px solid var(--line); border-radius:4px; background:#fff; }
  button { font:inherit; padding:4px 10px; border:1px solid var(--line); border-radius:4px; background:#fff; cursor:pointer; }
  ul.counts { list-style:none; margin:0; padding:0; }
  ul.counts li { display:grid; grid-template-columns: minmax(60px, 40%) 1fr 48px; gap:8px; align-items:center; padding:2px 4px; cursor:pointer; border-radius:3px; }
  ul.counts li:hover, ul.counts li.on { background:#eef2f8; }
  ul.counts .bar { height:10px; background:#9fb3d1; border-radius:2px; }
  ul.counts .n { text-align:right; font-variant-numeric: tabular-nums; }
  ul.counts .k { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
  #timeline svg { width:100%; height:140px; display:block; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { font-size:11px; color:var(--mute); font-weight:600; }
  tbody tr { cursor:pointer; } tbody tr:hover { background:#f1f4f9; } tbody tr.sel { background:#e3ebf7; }
  .pri { display:inline-block; padding:0 6px; border-radius:8px; color:#fff; font-size:11px; font-weight:600; }
  .pri.critical { background:var(--critical); } .pri.error { background:var(--error); }
  .pri.warning { background:var(--warning); color:#222; } .pri.notice { background:var(--notice); }
  #detail dl { display:grid; grid-template-columns: 140px 1fr; gap:2px 10px; margin:0 0 8px; }
  #detail dt { color:var(--mute); } #detail dd { margin:0; overflow-wrap:anywhere; }
  #detail { min-width:0; }
  #detail pre { background:#f3f5f8; padding:8px; border-radius:4px; overflow:auto; max-height:260px; margin:0; font-size:12px; white-space:pre-wrap; overflow-wrap:anywhere; }
  #detail table td { white-space:normal; }
  #detail ol { margin:0; padding-left:18px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:12px; }
  .muted { color:var(--mute); }
  .split { display:grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap:14px; }
  #tablewrap { max-height:520px; overflow:auto; }
  td.entity { max-width:260px; overflow:hidden; text-overflow:ellipsis; }
  #fleetstate td { font-size:12px; }
</style>
</head>
<body>
<header>
  <h1>threatlens fleet</h1>
  <span class="stat">alerts <b id="count-total">0</b></span>
  <span class="stat">incidents <b id="count-incidents">0</b></span>
  <span class="stat">hosts <b id="count-hosts">0</b></span>
  <span id="status"><i></i><span id="status-text">connecting…</span></span>
</header>
<main>
  <section class="panel wide">
    <div class="filters">
      <label>host <select id="filter-host"><option value="">all hosts</option></select></label>
      <label>detector <select id="filter-detector"><option value="">all detectors</option></select></label>
      <label>priority at least <select id="filter-priority">
        <option value="">any</option><option value="warning">warning</option><option value="error">error</option><option value="critical">critical</option>
      </select></label>
      <label>status <select id="filter-status"><option value="">all lines</option><option value="new">new incidents only</option></select></label>
      <label>time <select id="filter-time">
        <option value="">all</option><option value="900">last 15 min</option><option value="3600">last hour</option><option value="86400">last 24 h</option>
      </select></label>
      <label>search <input id="filter-text" type="search" placeholder="entity, path, comm, incident…"></label>
      <button id="filter-clear" type="button">clear filters</button>
      <span class="muted" id="shown"></span>
    </div>
  </section>
  <section class="panel"><h2>by host</h2><ul class="counts" id="by-host"></ul></section>
  <section class="panel"><h2>by detector</h2><ul class="counts" id="by-detector"></ul></section>
  <section class="panel"><h2>by priority</h2><ul class="counts" id="by-priority"></ul></section>
  <section class="panel wide" id="timeline"><h2>timeline <span class="muted" id="bucket"></span></h2><svg id="timeline-svg" role="img" aria-label="alerts over time"></svg></section>
  <section class="panel wide split">
    <div>
      <h2>alerts (newest first)</h2>
      <div id="tablewrap"><table id="alerts">
        <thead><tr><th>time</th><th>priority</th><th>host</th><th>detector</th><th>entity</th><th>score</th><th>status</th><th>model</th></tr></thead>
        <tbody></tbody>
      </table></div>
    </div>
    <div id="detail"><h2>evidence</h2><p class="muted">Click an alert to see its evidence.</p></div>
  </section>
  <section class="panel wide"><h2>agents and scorers</h2>
    <table id="fleetstate"><thead><tr><th>who</th><th>mode</th><th>events</th><th>buffered</th><th>alerts</th><th>connected</th><th>last report</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
"use strict";
const PRIORITIES = ["notice", "warning", "error", "critical"];
const byId = new Map();
let all = [];
const summaries = {};
let selected = null;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const filters = { host: "", detector: "", priority: "", status: "", time: "", text: "" };

function add(a) {
  if (byId.has(a.id)) return false;
  byId.set(a.id, a);
  a._t = Date.parse(a.time);
  a._text = JSON.stringify([a.entity, a.comm, a.log, a.incident, a.id, a.output, a.evidence && a.evidence.recentPaths]).toLowerCase();
  all.push(a);
  return true;
}

function visible() {
  const since = filters.time ? Date.now() - Number(filters.time) * 1000 : -Infinity;
  const min = filters.priority ? PRIORITIES.indexOf(filters.priority) : -1;
  const text = filters.text.toLowerCase();
  return all.filter((a) =>
    (!filters.host || a.hostname === filters.host) &&
    (!filters.detector || a.detector === filters.detector) &&
    (min < 0 || PRIORITIES.indexOf(a.priority) >= min) &&
    (!filters.status || a.status === filters.status) &&
    a._t >= since &&
    (!text || a._text.includes(text)));
}

function countBy(list, key) {
  const m = new Map();
  for (const a of list) m.set(a[key], (m.get(a[key]) || 0) + 1);
  return [...m].sort((x, y) => y[1] - x[1]);
}

function drawCounts(el, entries, filterKey) {
  const max = Math.max(1, ...entries.map((e) => e[1]));
  el.innerHTML = entries.map(([k, n]) =>
    '<li data-key="' + esc(k) + '" class="' + (filters[filterKey] === k ? "on" : "") + '"><span class="k">' + esc(k) +
    '</span><span class="bar" style="width:' + ((100 * n) / max).toFixed(1) + '%"></span><span class="n">' + n + "</span></li>").join("") ||
    '<li class="muted">none</li>';
  for (const li of el.querySelectorAll("li[data-key]")) {
    li.onclick = () => { filters[filterKey] = filters[filterKey] === li.dataset.key ? "" : li.dataset.key; syncControls(); draw(); };
  }
}

function drawTimeline(list) {
  const svg = $("timeline-svg");
  const width = svg.clientWidth || 900, height = 140, pad = 24;
  if (list.length === 0) { svg.innerHTML = '<text x="10" y="70" fill="#667085">no alerts</text>'; $("bucket").textContent = ""; return; }
  const t0 = Math.min(...list.map((a) => a._t)), t1 = Math.max(...list.map((a) => a._t));
  const steps = [1e3, 5e3, 10e3, 30e3, 60e3, 300e3, 900e3, 3600e3, 6 * 3600e3, 86400e3];
  const step = steps.find((s) => (t1 - t0) / s <= 60) || 86400e3;
  const start = Math.floor(t0 / step) * step, n = Math.floor((t1 - start) / step) + 1;
  const buckets = Array.from({ length: n }, () => [0, 0, 0, 0]);
  for (const a of list) buckets[Math.floor((a._t - start) / step)][PRIORITIES.indexOf(a.priority)]++;
  const max = Math.max(1, ...buckets.map((b) => b[0] + b[1] + b[2] + b[3]));
  const bw = (width - pad) / n;
  const colors = ["var(--notice)", "var(--warning)", "var(--error)", "var(--critical)"];
  let out = "";
  buckets.forEach((b, i) => {
    let y = height - 16;
    for (let p = 0; p < 4; p++) {
      if (!b[p]) continue;
      const h = ((height - 30) * b[p]) / max;
      y -= h;
      out += '<rect x="' + (pad + i * bw + 1).toFixed(1) + '" y="' + y.toFixed(1) + '" width="' + Math.max(1, bw - 2).toFixed(1) +
        '" height="' + h.toFixed(1) + '" fill="' + colors[p] + '"><title>' + new Date(start + i * step).toISOString() + ": " + b[p] + " " + PRIORITIES[p] + "</title></rect>";
    }
  });
  out += '<text x="0" y="12" font-size="10" fill="#667085">' + max + '</text><line x1="' + pad + '" x2="' + width + '" y1="' + (height - 16) + '" y2="' + (height - 16) + '" stroke="#ccd"/>';
  out += '<text x="' + pad + '" y="' + (height - 3) + '" font-size="10" fill="#667085">' + new Date(start).toISOString().replace("T", " ").slice(0, 19) + "</text>";
  out += '<text x="' + width + '" y="' + (height - 3) + '" font-size="10" fill="#667085" text-anchor="end">' + new Date(start + n * step).toISOString().replace("T", " ").slice(0, 19) + "</text>";
  svg.innerHTML = out;
  $("bucket").textContent = "(" + (step >= 3600e3 ? step / 3600e3 + " h" : step >= 60e3 ? step / 60e3 + " min" : step / 1e3 + " s") + " per bar)";
}

function drawTable(list) {
  const rows = list.slice(-500).reverse();
  $("alerts").tBodies[0].innerHTML = rows.map((a) =>
    '<tr data-id="' + esc(a.id) + '" class="' + (selected === a.id ? "sel" : "") + '"><td>' + esc(a.time.replace("T", " ").slice(0, 23)) +
    '</td><td><span class="pri ' + esc(a.priority) + '">' + esc(a.priority) + "</span></td><td>" + esc(a.hostname) + "</td><td>" + esc(a.detector) +
    '</td><td class="entity">' + esc(a.entity) + (a.comm ? " (" + esc(a.comm) + ")" : "") + "</td><td>" + Number(a.score).toFixed(3) +
    "</td><td>" + esc(a.status) + "</td><td>" + esc(a.model && a.model.version) + "</td></tr>").join("");
  for (const tr of $("alerts").tBodies[0].rows) tr.onclick = () => { selected = tr.dataset.id; drawTable(list); drawDetail(); };
}

function drawDetail() {
  const a = byId.get(selected);
  const el = $("detail");
  if (!a) return;
  const fields = ["time", "eventTime", "hostname", "detector", "rule", "priority", "status", "score", "threshold", "entity", "pid", "ppid", "comm", "log", "src", "sport", "dst", "dport", "proto", "incident", "id"];
  let html = "<h2>evidence</h2><dl>";
  for (const f of fields) if (a[f] !== undefined) html += "<dt>" + f + "</dt><dd>" + esc(typeof a[f] === "number" ? +a[f].toFixed(4) : a[f]) + "</dd>";
  html += "<dt>model</dt><dd>" + esc(a.model.name) + " version " + esc(a.model.version) + " <span class=muted>" + esc(a.model.hash.slice(0, 20)) + "…</span></dd>";
  if (a.response) html += "<dt>response</dt><dd>" + esc(JSON.stringify(a.response)) + "</dd>";
  const ev = Object.assign({}, a.evidence);
  const paths = ev.recentPaths; delete ev.recentPaths;
  const top = ev.topFeatures; delete ev.topFeatures;
  for (const [k, v] of Object.entries(ev)) html += "<dt>" + esc(k) + "</dt><dd>" + esc(typeof v === "object" ? JSON.stringify(v) : v) + "</dd>";
  html += "</dl>";
  if (Array.isArray(top) && top.length) html += "<h2>top features</h2><table><tr><th>feature</th><th>value</th><th>weight</th></tr>" +
    top.map((t) => "<tr><td>" + esc(t.feature) + "</td><td>" + esc(t.value) + "</td><td>" + esc(t.weight) + "</td></tr>").join("") + "</table>";
  if (Array.isArray(paths) && paths.length) html += "<h2>recent paths</h2><ol>" + paths.map((p) => "<li>" + esc(p) + "</li>").join("") + "</ol>";
  html += "<h2>raw</h2><pre>" + esc(JSON.stringify(a, (k, v) => (k.startsWith("_") ? undefined : v), 2)) + "</pre>";
  el.innerHTML = html;
}

function drawFleet() {
  const rows = Object.entries(summaries).sort();
  $("fleetstate").tBodies[0].innerHTML = rows.map(([subject, s]) => {
    const events = s.lines ?? s.events ?? (s.engine && s.engine.records) ?? "";
    const buffered = s.buffered ?? s.alertsBuffered ?? s.held ?? "";
    const alerts = s.alerts ?? (s.engine && s.engine.alerts) ?? "";
    const who = s.host ? s.host + " (" + s.detector + ")" : "scorer " + (s.id || subject);
    return "<tr><td>" + esc(who) + "</td><td>" + esc(s.mode || (subject.startsWith("scorer.") ? "scorer" : "")) + "</td><td>" + esc(events) + "</td><td>" + esc(buffered) +
      "</td><td>" + esc(alerts) + "</td><td>" + esc(s.connected === undefined ? "" : s.connected ? "yes" : "no") + "</td><td>" + esc((s.at || "").replace("T", " ").slice(0, 19)) + "</td></tr>";
  }).join("") || '<tr><td class="muted" colspan="7">no reports yet</td></tr>';
}

function syncOptions(id, values) {
  const sel = $(id), current = sel.value;
  const have = new Set([...sel.options].map((o) => o.value));
  for (const v of [...values].sort()) if (!have.has(v)) sel.add(new Option(v, v));
  sel.value = current;
}

function syncControls() {
  for (const k of ["host", "detector", "priority", "status", "time"]) $("filter-" + k).value = filters[k];
  $("filter-text").value = filters.text;
}

let pending = false;
function draw() {
  pending = false;
  syncOptions("filter-host", new Set(all.map((a) => a.hostname)));
  syncOptions("filter-detector", new Set(all.map((a) => a.detector)));
  const list = visible();
  $("count-total").textContent = list.length;
  $("count-incidents").textContent = new Set(list.map((a) => a.incident)).size;
  $("count-hosts").textContent = new Set(list.map((a) => a.hostname)).size;
  $("shown").textContent = list.length + " of " + all.length + " alert lines";
  drawCounts($("by-host"), countBy(list, "hostname"), "host");
  drawCounts($("by-detector"), countBy(list, "detector"), "detector");
  drawCounts($("by-priority"), countBy(list, "priority").sort((x, y) => PRIORITIES.indexOf(y[0]) - PRIORITIES.indexOf(x[0])), "priority");
  drawTimeline(list);
  drawTable(list);
  drawFleet();
}
function schedule() { if (!pending) { pending = true; requestAnimationFrame(draw); } }

for (const k of ["host", "detector", "priority", "status", "time"]) $("filter-" + k).onchange = (e) => { filters[k] = e.target.value; draw(); };
$("filter-text").oninput = (e) => { filters.text = e.target.value; draw(); };
$("filter-clear").onclick = () => { for (const k in filters) filters[k] = ""; syncControls(); draw(); };

const source = new EventSource("events");
source.addEventListener("open", () => { $("status").className = "live"; $("status-text").textContent = "live"; });
source.addEventListener("error", () => { $("status").className = "down"; $("status-text").textContent = "reconnecting…"; });
source.addEventListener("reset", (e) => {
  const data = JSON.parse(e.data);
  for (const a of data.alerts) add(a);
  Object.assign(summaries, data.summaries);
  document.body.dataset.ready = "1";
  draw();
});
source.addEventListener("alert", (e) => { if (add(JSON.parse(e.data))) schedule(); });
source.addEventListener("summary", (e) => { const d = JSON.parse(e.data); summaries[d.subject] = d.summary; schedule(); });
</script>
</body>
</html>
`;
