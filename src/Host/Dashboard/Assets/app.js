"use strict";
// The dashboard page: draws each frame of /dashboard/events. No framework, no build step.
const $ = (id) => document.getElementById(id);
const colours = ["#3d7be0", "#e08a1e", "#8e44ad"];
let frame = null;

const drawnMaps = new Map();
function drawMap(element, cells, perCell) {
  // cells is one character per cell; many frames change no block, and then the map costs one compare.
  const key = perCell + ":" + cells;
  if (drawnMaps.get(element) === key) return;
  drawnMaps.set(element, key);
  element.classList.toggle("dense", cells.length > 2048);
  element.dataset.perCell = perCell;
  while (element.children.length < cells.length) {
    const cell = document.createElement("div");
    cell.dataset.cell = element.children.length;
    element.appendChild(cell);
  }
  while (element.children.length > cells.length) element.lastChild.remove();
  for (let i = 0; i < cells.length; i++) {
    const name = "cell s-" + cells[i];
    if (element.children[i].className !== name) element.children[i].className = name;
  }
}

function drawRequests(rows) {
  const body = document.querySelector("#requests tbody");
  const live = new Set(rows.map((r) => r.id));
  for (const tr of [...body.children]) if (!live.has(tr.dataset.requestId)) tr.remove();
  rows.forEach((r, i) => {
    let tr = body.querySelector(`tr[data-request-id="${CSS.escape(r.id)}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.requestId = r.id;
      for (let c = 0; c < 10; c++) tr.appendChild(document.createElement("td"));
    }
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    const history = r.changes.map((c) => `${c.state}@${Math.round(c.atMs)}`).join(" → ");
    const values = [r.id, r.status, r.promptTokens, r.outputTokens, r.completions, r.blocks,
      r.ttftMs === null ? "" : r.ttftMs.toFixed(1), r.cachedTokens ? `${r.cachedTokens} tok` : "", r.preemptions || "", history];
    values.forEach((v, c) => setText(tr.children[c], v));
    const state = "state-" + r.status;
    if (tr.children[1].className !== state) tr.children[1].className = state;
  });
}

function chart(id, series, stacked) {
  const canvas = $(id);
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  const n = series[0].length;
  if (n === 0) return;
  const sums = series[0].map((_, i) => series.reduce((s, v) => s + v[i], 0));
  const max = Math.max(1e-9, ...(stacked ? sums : series.flat()));
  g.fillStyle = "#667"; g.font = "10px sans-serif";
  g.fillText(max >= 100 ? Math.round(max) : max.toPrecision(3), 2, 10);
  const x = (i) => (n === 1 ? width : (i / (n - 1)) * (width - 2) + 1);
  const y = (v) => height - 2 - (v / max) * (height - 14);
  const base = new Array(n).fill(0);
  series.forEach((values, s) => {
    g.strokeStyle = colours[s]; g.lineWidth = 1.5; g.beginPath();
    values.forEach((v, i) => { const top = stacked ? base[i] + v : v; i ? g.lineTo(x(i), y(top)) : g.moveTo(x(i), y(top)); });
    g.stroke();
    if (stacked) values.forEach((v, i) => (base[i] += v));
  });
}

// Writing an element's text invalidates the page's layout even when the text is the same: most
// values do not change from one frame to the next, so only changed ones are written.
function setText(element, value) {
  const text = String(value);
  if (element.textContent !== text) element.textContent = text;
}

function draw(f) {
  frame = f;
  setText($("frame-step"), f.step);
  setText($("stat-blocks"), f.counts.deviceBlocks);
  setText($("stat-block-size"), f.counts.blockSize);
  setText($("stat-free"), f.counts.free);
  setText($("stat-shared"), f.counts.shared);
  setText($("stat-swapped"), f.counts.swapped);
  setText($("stat-swap-blocks"), f.counts.swapBlocks);
  setText($("aggregation"), f.cells.blocksPerCell > 1 ? `one cell per ${f.cells.blocksPerCell} blocks (most common state)` : "");
  drawMap($("device-map"), f.cells.device, f.cells.blocksPerCell);
  drawMap($("swap-map"), f.cells.host, f.cells.blocksPerCell);
  drawRequests(f.requests);
  drawCharts(f.charts);
}

// Charts show whole seconds only: the server's current second is still filling, so drawing it would
// show a dip and redraw five canvases every frame. They are redrawn once per second, when one ends.
let chartsSecond = -1;
function drawCharts(c) {
  const second = Math.floor(performance.now() / 1000);
  if (second === chartsSecond) return;
  chartsSecond = second;
  const done = (values) => values.slice(0, -1);
  chart("chart-tokens", [done(c.promptTokens), done(c.generationTokens)]);
  chart("chart-kv", [done(c.kvUsagePercent)]);
  chart("chart-queues", [done(c.running), done(c.waiting), done(c.swapped)]);
  chart("chart-preemptions", [done(c.preemptions)]);
  chart("chart-steps", [done(c.scheduleMs), done(c.modelMs), done(c.sampleMs)], true);
}

async function detail(event) {
  const cell = event.target.closest(".cell");
  if (!cell) return;
  const map = cell.parentElement, per = Number(map.dataset.perCell || 1), from = Number(cell.dataset.cell) * per;
  const response = await fetch(`/dashboard/blocks?pool=${map.dataset.pool}&from=${from}&to=${from + per}`);
  if (!response.ok) return;
  const d = await response.json();
  const names = { f: "free", c: "cached (evictable)", u: "in use", s: "shared", w: "swapped" };
  const states = Object.entries(d.states).map(([k, v]) => `${names[k]} ${v}`).join(", ");
  const owners = d.owners.map((o) => `  ${o.requestId} #${o.completion} logical block ${o.logicalIndex}`).join("\n");
  $("block-detail").textContent = `${d.pool} block${per > 1 ? `s ${d.from}..${d.to - 1}` : ` ${d.from}`}: ${states}; refcount ${d.refCounts.join(",")}\n${owners || "  no block table points here"}`;
}

for (const map of document.querySelectorAll(".map")) { map.addEventListener("mouseover", detail); map.addEventListener("click", detail); }
const events = new EventSource("/dashboard/events");
events.onopen = () => { $("connection").textContent = "live"; $("connection").className = "online"; };
events.onerror = () => { $("connection").textContent = "reconnecting"; $("connection").className = "offline"; };
// Frames are drawn on the browser's own repaint schedule, the latest one only: a busy or hidden
// page (where repaints stop) skips frames instead of parsing and drawing every one.
let latest = null;
events.onmessage = (m) => {
  if (latest === null) requestAnimationFrame(() => { const data = latest; latest = null; draw(JSON.parse(data)); });
  latest = m.data;
};
