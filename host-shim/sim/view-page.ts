/**
 * The fleet view's page (served by host-shim/sim/view.ts): one document, its
 * style and script inline, nothing fetched from elsewhere. It listens on
 * /api/events (EventSource), draws a table row per device, a chart of the
 * fleet's telemetry rate and connected devices (inline SVG, last 120 samples),
 * the rollout progress when one is published, and posts faults to /api/fault.
 * Element ids and data-* attributes are what test/sim-view drives.
 */
export const FLEET_VIEW_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mote fleet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:13px/1.35 system-ui,sans-serif;margin:12px;color:#1b1f24;background:#f6f7f9}
h1{font-size:17px;margin:0 0 8px}h2{font-size:14px;margin:14px 0 6px}
#summary{margin-bottom:8px}#summary b{font-variant-numeric:tabular-nums}
.bar{display:flex;gap:6px;flex-wrap:wrap;align-items:center;margin-bottom:8px}
button{font:inherit;padding:4px 10px;border:1px solid #8a94a3;border-radius:4px;background:#fff;cursor:pointer}
button:hover{background:#e8eef7}select{font:inherit}
table{border-collapse:collapse;width:100%;background:#fff;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e3e6ea;padding:3px 6px;text-align:left;white-space:nowrap}
th{background:#eef1f5;position:sticky;top:0}
tr.ok td:first-child{border-left:4px solid #2e9d57}tr.bad td:first-child{border-left:4px solid #d2453b}
.dim{color:#6b7480}#chart{background:#fff;border:1px solid #e3e6ea}
#events{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px;max-height:9em;overflow:auto;background:#fff;border:1px solid #e3e6ea;padding:4px}
.phase-succeeded{color:#2e9d57}.phase-failed{color:#d2453b}
</style></head><body>
<h1>mote fleet</h1>
<div id="summary"><span id="conn" class="dim">connecting…</span> · <b id="count">0</b> devices · <b id="healthy">0</b> healthy</div>
<div class="bar" id="faultbar">
 <label>target <select id="target"><option value="">all devices</option></select></label>
 <button data-fault="wifi-drop">WiFi drop 3 s</button>
 <button data-fault="broker-restart">Broker restart 1 s</button>
 <button data-fault="power-cut">Power cut 1 s</button>
 <button data-fault="loss" data-rate="0.3">Loss 30 %</button>
 <button data-fault="loss" data-rate="0">Loss off</button>
 <span id="faultmsg" class="dim"></span>
</div>
<svg id="chart" width="720" height="140" viewBox="0 0 720 140" role="img" aria-label="telemetry">
 <text x="6" y="14" font-size="11" fill="#2f6fd1">messages out / s (fleet)</text>
 <text x="200" y="14" font-size="11" fill="#2e9d57">MQTT connected</text>
 <polyline id="rate" fill="none" stroke="#2f6fd1" stroke-width="1.5" points=""/>
 <polyline id="online" fill="none" stroke="#2e9d57" stroke-width="1.5" points=""/>
 <text id="ymax" x="714" y="14" font-size="11" text-anchor="end" fill="#6b7480"></text>
</svg>
<section id="rollout" hidden><h2>Rollout <span id="rolloutTitle"></span></h2><div id="rolloutBar"></div>
<table><thead><tr><th>device</th><th>stage</th><th>phase</th><th>detail</th></tr></thead><tbody id="rolloutRows"></tbody></table></section>
<h2>Devices</h2>
<table><thead><tr><th>device</th><th>id</th><th>WiFi</th><th>MQTT</th><th>broker node</th><th>version</th><th>slot</th><th>heap</th><th>queue</th><th>in</th><th>out</th><th>dropped</th><th>boots</th><th>up</th></tr></thead>
<tbody id="rows"></tbody></table>
<h2>Events</h2><div id="events"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const history = [];
let last;
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text == null ? "-" : String(text); if (cls) td.className = cls; tr.appendChild(td); return td; }
function draw(s) {
  const rows = $("rows"), target = $("target");
  const healthy = s.devices.filter((d) => d.healthy).length;
  $("count").textContent = s.devices.length; $("healthy").textContent = healthy;
  const frag = document.createDocumentFragment();
  for (const d of s.devices) {
    const tr = document.createElement("tr");
    tr.className = d.healthy ? "ok" : "bad"; tr.dataset.device = d.index;
    cell(tr, d.name); cell(tr, d.id);
    cell(tr, d.wifi + (d.rssi != null ? " " + d.rssi + " dBm" : "")).dataset.k = "wifi";
    cell(tr, d.mqtt).dataset.k = "mqtt";
    cell(tr, d.node); cell(tr, d.version); cell(tr, d.slot); cell(tr, d.heap); cell(tr, d.queueDepth);
    cell(tr, d.msgsIn); cell(tr, d.msgsOut); cell(tr, d.msgsDropped); cell(tr, d.boots).dataset.k = "boots";
    cell(tr, d.uptimeMs == null ? "-" : Math.round(d.uptimeMs / 1000) + " s");
    frag.appendChild(tr);
  }
  rows.replaceChildren(frag);
  if (target.options.length !== s.devices.length + 1) {
    const keep = target.value;
    target.replaceChildren(new Option("all devices", ""));
    for (const d of s.devices) target.appendChild(new Option(d.name, String(d.index)));
    target.value = keep;
  }
  for (const b of document.querySelectorAll("button[data-fault]")) b.disabled = !s.faults.includes(b.dataset.fault);
  // chart: fleet messages out per second and connected devices
  const out = s.devices.reduce((a, d) => a + d.msgsOut, 0);
  const online = s.devices.filter((d) => d.mqtt === "connected").length;
  const rate = last === undefined || out < last.out ? 0 : (out - last.out) / Math.max(0.001, (s.t - last.t) / 1000);
  last = { t: s.t, out };
  history.push({ rate, online });
  if (history.length > 120) history.shift();
  const ymax = Math.max(1, ...history.map((h) => h.rate)), omax = Math.max(1, s.devices.length);
  const x = (i) => (6 + i * (708 / 119)).toFixed(1);
  $("rate").setAttribute("points", history.map((h, i) => x(i) + "," + (134 - (h.rate / ymax) * 110).toFixed(1)).join(" "));
  $("online").setAttribute("points", history.map((h, i) => x(i) + "," + (134 - (h.online / omax) * 110).toFixed(1)).join(" "));
  $("ymax").textContent = "max " + ymax.toFixed(1) + " msg/s · " + online + "/" + s.devices.length + " connected";
  // rollout
  const r = s.rollout;
  $("rollout").hidden = !r;
  if (r) {
    const n = (p) => r.devices.filter((d) => d.phase === p).length;
    $("rolloutTitle").textContent = r.version + " — " + r.state + ", stage " + r.stage;
    $("rolloutBar").textContent = n("succeeded") + " succeeded · " + n("failed") + " failed · " + (r.devices.length - n("succeeded") - n("failed")) + " pending of " + r.devices.length;
    const rf = document.createDocumentFragment();
    for (const d of r.devices) {
      const tr = document.createElement("tr");
      cell(tr, d.id); cell(tr, d.stage < 0 ? "-" : d.stage === 0 ? "canary" : "wave " + d.stage);
      cell(tr, d.phase, "phase-" + d.phase); cell(tr, d.detail + (d.code ? " (" + d.code + ")" : ""));
      rf.appendChild(tr);
    }
    $("rolloutRows").replaceChildren(rf);
  }
  $("events").textContent = s.events.join("\\n");
}
function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("status", (e) => { $("conn").textContent = "live"; draw(JSON.parse(e.data)); });
  es.onerror = () => { $("conn").textContent = "reconnecting…"; };
}
document.getElementById("faultbar").addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-fault]");
  if (!b) return;
  const body = { kind: b.dataset.fault };
  if (b.dataset.rate !== undefined) body.rate = Number(b.dataset.rate);
  if ($("target").value !== "" && body.kind !== "broker-restart" && body.kind !== "loss") body.device = Number($("target").value);
  const r = await fetch("/api/fault", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  $("faultmsg").textContent = r.ok ? "sent: " + body.kind : "refused: " + (j.error ? j.error.code : r.status);
});
connect();
</script></body></html>
`;
