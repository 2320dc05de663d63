// akindb search page: plain JS, no build step. Talks to the JSON API under /v1 with the key
// typed into the page (kept in sessionStorage for this tab only).
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let current = null;   // collection name
let lastQuery = "";

function key() { return sessionStorage.getItem("akindb-key") || ""; }

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (key()) headers["Authorization"] = "Bearer " + key();
  const resp = await fetch(path, {
    method: body === undefined ? "GET" : "POST", headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = resp.status === 204 ? null : await resp.json();
  if (!resp.ok) {
    const e = (data && data.error) || { code: "http_" + resp.status, message: resp.statusText };
    throw Object.assign(new Error(e.message), { code: e.code });
  }
  return data;
}

function status(msg, isError) {
  const el = $("status");
  el.textContent = msg;
  el.className = isError ? "error" : "";
}

// Errors in words for the page. A server with keys answers "missing_api_key" before anyone
// typed one: that is the first step, not an error.
function showError(e) {
  if (e.code === "missing_api_key") {
    status("Enter your API key above and press Connect. (No key yet? On the server: " +
           "akindb keys create --role read --collections '*')", false);
    $("apikey").focus();
  } else if (e.code === "invalid_api_key") {
    status("The server did not accept this API key (unknown, revoked or expired). " +
           "Check it, or create a new one with akindb keys create.", true);
    $("apikey").focus();
  } else {
    status(String(e.message || e) + (e.code ? " [" + e.code + "]" : ""), true);
  }
}

function colPath(suffix) { return "/v1/collections/" + encodeURIComponent(current) + suffix; }

async function connect() {
  try {
    const { collections } = await api("/v1/collections");
    const sel = $("collection");
    const keep = sel.value;
    sel.replaceChildren(...collections.map((n) => new Option(n, n)));
    if (!collections.length) { status("No collections yet: index some files first."); return; }
    sel.value = collections.includes(keep) ? keep : collections[0];
    current = sel.value;
    await stats();
    await shards();
    await drawMap(null);
    status("Connected to collection " + current + ".");
  } catch (e) { showError(e); }
}

// On `akindb serve --cluster`: each shard's replicas with their node, role, health and lag
// (log entries behind the primary). An embedded server answers {shards: null}: no section.
async function shards() {
  const data = await api(colPath("/shards"));
  const box = $("shards-box");
  if (!data.shards) { box.hidden = true; return; }
  const cell = (tr, v) => { const td = document.createElement("td"); td.textContent = v; tr.append(td); };
  const rows = [];
  for (const sh of data.shards) {
    for (const r of sh.replicas) {
      const tr = document.createElement("tr");
      const health = !r.alive ? "down" : r.ready ? "ready" : "catching up";
      tr.className = health === "ready" ? "ok" : "bad";
      tr.dataset.shard = String(sh.shard);
      cell(tr, String(sh.shard)); cell(tr, String(r.replica)); cell(tr, r.node ? r.node.slice(0, 6) : "—");
      cell(tr, r.alive ? r.role + (r.role === "primary" ? " e" + sh.epoch : "") : "—");
      cell(tr, health);
      cell(tr, r.lag === null || r.lag === undefined ? "—" : String(r.lag));
      cell(tr, r.documents === undefined ? "—" : String(r.documents));
      rows.push(tr);
    }
  }
  $("shards").tBodies[0].replaceChildren(...rows);
  const alive = data.nodes.filter((n) => n.alive).length;
  $("shards-nodes").textContent = data.shards.length + " shard(s) on the cluster at " +
    data.address + ": " + alive + " of " + data.nodes.length + " node(s) alive.";
  box.hidden = false;
}

async function stats() {
  const info = await api(colPath(""));
  const rm = (await api(colPath("/index_stats"))).recall_monitor;
  const recall = !rm ? "exact (flat index)" : !rm.samples ? "no sampled queries yet"
    : `${rm.recall.toFixed(3)} @${rm.k} (${rm.samples} samples${rm.below_target ? ", below target" : ""})`;
  const rows = [["documents", info.documents], ["chunks", info.chunks], ["model", info.model],
    ["metric", info.metric], ["dimensions", info.dim], ["index", info.index],
    ["live recall", recall]];
  $("stats").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v === null ? "—" : String(v);
    return [dt, dd];
  }));
}

function words(q) {
  return [...new Set((q.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter((w) => w.length > 2))];
}

function highlighted(text, q) {
  const p = document.createElement("p");
  p.className = "passage";
  const ws = words(q).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!ws.length) { p.textContent = text; return p; }
  const re = new RegExp("(" + ws.join("|") + ")", "giu");
  let last = 0;
  for (const m of text.matchAll(re)) {
    p.append(text.slice(last, m.index));
    const mark = document.createElement("mark"); mark.textContent = m[0]; p.append(mark);
    last = m.index + m[0].length;
  }
  p.append(text.slice(last));
  return p;
}

function fmt(v) { return typeof v === "number" ? (Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(3)) : v; }

function explainBox(hit, extra) {
  const dl = document.createElement("dl");
  dl.className = "explain";
  const add = (k, v) => {
    if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) return;
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = typeof v === "object" ? JSON.stringify(v) : String(fmt(v));
    dl.append(dt, dd);
  };
  const ex = hit.explanation || {};
  add("mode", ex.mode);
  add("score", hit.score);
  add("distance", hit.distance);
  add("dense score (rank)", ex.dense_score !== undefined && ex.dense_score !== null
    ? fmt(ex.dense_score) + " (" + (ex.dense_rank ?? "–") + ")" : null);
  add("BM25 score (rank)", ex.bm25_score !== undefined && ex.bm25_score !== null
    ? fmt(ex.bm25_score) + " (" + (ex.keyword_rank ?? "–") + ")" : null);
  add("matched terms", ex.matched_terms && Object.keys(ex.matched_terms).length ? ex.matched_terms : null);
  add("fusion", ex.fusion && ex.fusion.formula ? ex.fusion.formula : null);
  add("words that mattered", ex.token_importance
    ? ex.token_importance.map((t) => t.token + " " + t.importance.toFixed(3)).join(", ") : null);
  if (extra) {
    add("exact vector rank", extra.rank === null ? "not in the top 100" : String(extra.rank + 1));
    add("model", extra.model + " (" + extra.metric + ")");
    add("query tokens", extra.query_tokens.join(" "));
    add("shared words", extra.shared_terms.join(", "));
    add("passage", "chars " + extra.start + "–" + extra.end + ", " + extra.passage_tokens +
      " tokens" + (extra.truncated ? " (truncated by the model)" : ""));
  }
  return dl;
}

function renderHits(hits, q) {
  const ol = $("results");
  ol.replaceChildren();
  hits.forEach((hit, i) => {
    const li = document.createElement("li");
    li.className = "hit";
    const meta = document.createElement("div");
    meta.className = "meta";
    const sc = document.createElement("span"); sc.className = "score";
    sc.textContent = "score " + fmt(hit.score);
    const src = document.createElement("span"); src.className = "source";
    src.textContent = " · " + (hit.source || hit.id) + " · chunk " + hit.chunk;
    meta.append(sc, src);
    const btn = document.createElement("button");
    btn.className = "link"; btn.type = "button"; btn.textContent = "Explain";
    btn.setAttribute("aria-expanded", "false");
    const panel = document.createElement("div");
    panel.id = "explain-" + i; panel.hidden = true;
    btn.setAttribute("aria-controls", panel.id);
    btn.addEventListener("click", async () => {
      const open = btn.getAttribute("aria-expanded") === "true";
      btn.setAttribute("aria-expanded", String(!open));
      panel.hidden = open;
      if (open || panel.childElementCount) return;
      let extra = null;
      try { extra = await api(colPath("/explain"), { query: q, id: hit.id, chunk: hit.chunk }); }
      catch (e) { showError(e); }
      panel.replaceChildren(explainBox(hit, extra));
    });
    li.append(meta, highlighted(hit.text, q), btn, panel);
    ol.append(li);
  });
}

let mapSeq = 0;  // a map answer that arrives after a newer request is dropped

async function drawMap(q) {
  const svg = $("map");
  const seq = ++mapSeq;
  const data = await api(colPath("/map"), { query: q, k: 10 });
  if (seq !== mapSeq) return;  // e.g. the collection's plain map, answered after a search's
  const pts = data.points.slice();
  const xs = pts.map((p) => p.x).concat(data.query ? [data.query[0]] : []);
  const ys = pts.map((p) => p.y).concat(data.query ? [data.query[1]] : []);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => 15 + 270 * (x - x0) / ((x1 - x0) || 1);
  const sy = (y) => 285 - 270 * (y - y0) / ((y1 - y0) || 1);
  svg.replaceChildren();
  pts.sort((a, b) => (a.hit >= 0) - (b.hit >= 0));  // hits drawn on top
  for (const p of pts) {
    const c = document.createElementNS(SVG, "circle");
    c.setAttribute("cx", sx(p.x)); c.setAttribute("cy", sy(p.y));
    c.setAttribute("r", p.hit >= 0 ? 5 : 2.5);
    if (p.hit >= 0) c.setAttribute("class", "hit");
    const t = document.createElementNS(SVG, "title");
    t.textContent = (p.hit >= 0 ? "hit " + (p.hit + 1) + ": " : "") + (p.source || p.id);
    c.append(t);
    svg.append(c);
    if (p.hit >= 0 && p.hit < 3) {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", sx(p.x) + 6); label.setAttribute("y", sy(p.y) - 4);
      label.textContent = String(p.hit + 1);
      svg.append(label);
    }
  }
  if (data.query) {
    const s = document.createElementNS(SVG, "text");
    s.setAttribute("class", "query"); s.setAttribute("text-anchor", "middle");
    s.setAttribute("x", sx(data.query[0])); s.setAttribute("y", sy(data.query[1]) + 5);
    s.textContent = "★";
    svg.append(s);
  }
  const nh = pts.filter((p) => p.hit >= 0).length;
  const var2 = data.explained_variance.map((v) => Math.round(v * 100) + "%").join(" + ");
  svg.setAttribute("aria-label", "Map of " + data.points.length + " of " + data.total_chunks +
    " chunks projected to 2-D by PCA (" + var2 + " of variance)" +
    (data.query ? "; the query and its " + nh + " hits are highlighted" : ""));
  svg.dataset.points = String(data.points.length);
}

async function search(ev) {
  ev.preventDefault();
  const q = $("q").value.trim();
  if (!q || !current) return;
  lastQuery = q;
  status("Searching…");
  try {
    const { hits } = await api(colPath("/search"), { query: q, k: 10, mode: $("mode").value });
    renderHits(hits, q);
    status(hits.length + " results for “" + q + "”.");
    await drawMap(q);
  } catch (e) { showError(e); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("apikey").value = key();
  $("settings").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("akindb-key", $("apikey").value.trim());
    connect();
  });
  $("collection").addEventListener("change", () => {
    current = $("collection").value;
    stats().then(shards).then(() => drawMap(lastQuery || null)).catch(showError);
  });
  $("search").addEventListener("submit", search);
  // the shard view follows fail-overs and catch-ups while the page is open
  setInterval(() => { if (current && !$("shards-box").hidden) shards().catch(() => {}); }, 5000);
  connect();
});
