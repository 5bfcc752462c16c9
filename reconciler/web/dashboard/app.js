// reconciler dashboard: plain JavaScript, no framework, nothing fetched from outside.
// One snapshot (/api/v1/dashboard), then live through the event stream (/api/v1/stream),
// read with fetch so that the token can go in the Authorization header.
"use strict";

const TOKEN_KEY = "reconciler.token";
const ACTIONS = {
  pause: "pause", resume: "resume", promote: "promote", "promote-full": "promote --full",
  abort: "abort", retry: "retry", restart: "restart", undo: "undo",
};
const state = {
  deps: new Map(),           // "ns/name" -> document
  events: [],                // newest last, at most 300
  traffic: {},               // "ns/name" -> traffic list
  selected: null,            // "ns/name"
  history: null,             // {key, revisions}
  diff: null,                // {key, from, to, text}
  pick: null,                // {key, from, to}: the revisions chosen for a diff
  token: localStorage.getItem(TOKEN_KEY) || "",
  clockSkew: 0,              // server time - browser time, seconds
  stats: { events: 0, lastEventAt: 0, renders: 0, firstRenderMs: null, firstRenderAt: null },
};
window.reconcilerDashboard = state; // for the tests and the bench: what the page has seen

const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const keyOf = (d) => `${d.namespace}/${d.name}`;
const now = () => Date.now() / 1000 + state.clockSkew;

function age(ts) {
  if (!ts) return "";
  const s = Math.max(0, Math.floor(now() - ts));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  if (state.token) h.Authorization = `Bearer ${state.token}`;
  return h;
}

function banner(text, kind) {
  const el = $("banner");
  if (!text) { el.hidden = true; return; }
  el.textContent = text;
  el.className = `banner ${kind || ""}`;
  el.hidden = false;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ cache: "no-store" }, options || {},
    { headers: headers((options || {}).headers) }));
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    showTokenForm(body.message || "this server needs the API token");
    throw new Error(body.message || `HTTP ${response.status}`);
  }
  return response;
}

// -- the list ---------------------------------------------------------------------------

function statusClass(word) {
  if (/^(Running|Healthy|Completed)$/.test(word)) return "st-ok";
  if (/BackOff|Err|Error|Failed|Signal|ExitCode|Degraded/.test(word)) return "st-bad";
  if (/Pending|Terminating|Progressing|Creating/.test(word)) return "st-prog";
  return "st-warn";
}

function weightBar(d) {
  if (!d.canary) return "";
  const c = d.canary;
  return `<div class="weight"><span>canary</span><progress class="bar" max="100"
    value="${Math.min(100, Math.max(0, c.actualWeight))}"></progress>
    <span class="mono" data-weight>${c.actualWeight}%</span>
    <span class="muted">step ${c.step}/${c.steps}</span></div>`;
}

function cardHtml(d) {
  const key = keyOf(d);
  const r = d.replicas;
  const images = d.images.map((i) => i.image + (i.roles.length ? ` (${i.roles.join(",")})` : ""));
  const ns = d.namespace === "default" ? "" : `<span class="ns">${esc(d.namespace)}/</span>`;
  return `<a class="dep ${esc(d.phase)}${state.selected === key ? " selected" : ""}"
      href="#/${encodeURIComponent(d.namespace)}/${encodeURIComponent(d.name)}"
      data-deployment="${esc(key)}">
    <span class="name">${ns}${esc(d.name)}</span>
    <span class="phase ${esc(d.phase)}" data-phase>${esc(d.phase)}</span>
    <span class="meta"><span class="mono" data-ready>${r.ready}/${r.desired}</span> ready ·
      ${esc(d.strategy)} · <span class="mono" data-images>${esc(images.join(", "))}</span>
      ${d.revision ? ` · rev ${d.revision}` : ""}</span>
    ${weightBar(d)}
  </a>`;
}

function visible() {
  const f = $("filter").value.trim().toLowerCase();
  const all = [...state.deps.values()];
  return f ? all.filter((d) => keyOf(d).toLowerCase().includes(f) ||
    d.images.some((i) => i.image.toLowerCase().includes(f)) || d.phase.toLowerCase() === f) : all;
}

function renderCounts() {
  const counts = {};
  for (const d of state.deps.values()) counts[d.phase] = (counts[d.phase] || 0) + 1;
  $("counts").textContent = `${state.deps.size} deployments` + Object.entries(counts)
    .sort().map(([k, v]) => ` · ${v} ${k}`).join("");
}

function renderList() {
  const items = visible().sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  $("deployments").innerHTML = items.length ? items.map(cardHtml).join("")
    : `<div class="empty">${state.deps.size ? "nothing matches the filter" : "no deployments yet"}</div>`;
  renderCounts();
  state.stats.renders++;
}

function updateCards(docs) {
  const list = $("deployments");
  let missing = false;
  for (const d of docs) {
    const el = list.querySelector(`[data-deployment="${CSS.escape(keyOf(d))}"]`);
    if (!el) { missing = true; continue; }
    const tmp = document.createElement("div");
    tmp.innerHTML = cardHtml(d);
    el.replaceWith(tmp.firstElementChild);
  }
  if (missing) renderList(); else renderCounts();
}

// -- events -----------------------------------------------------------------------------

function eventHtml(e, withObject) {
  const o = e.involvedObject;
  return `<li class="${esc(e.type)}"><span class="when">${esc(age(e.lastSeen))}</span>` +
    `<span class="reason">${esc(e.reason)}</span>` +
    (withObject ? `<span class="mono">${esc(o.kind.toLowerCase())}/${esc(o.name)}</span> ` : "") +
    `${esc(e.message)}${e.count > 1 ? ` <span class="tag">×${e.count}</span>` : ""}</li>`;
}

function renderEvents() {
  const newest = state.events.slice(-60).reverse();
  $("events").innerHTML = newest.map((e) => eventHtml(e, true)).join("") ||
    `<li class="empty">no events</li>`;
}

function takeEvents(list) {
  for (const e of list) {
    const i = state.events.findIndex((x) => x.involvedObject.name === e.involvedObject.name &&
      x.involvedObject.kind === e.involvedObject.kind && x.reason === e.reason &&
      x.message === e.message && x.involvedObject.namespace === e.involvedObject.namespace);
    if (i >= 0) state.events.splice(i, 1);
    state.events.push(e);
  }
  if (state.events.length > 300) state.events.splice(0, state.events.length - 300);
}

// -- the detail -------------------------------------------------------------------------

function podIcon(word) {
  const cls = statusClass(word);
  return { "st-ok": "✔", "st-bad": "✖", "st-prog": "◌" }[cls] || "⚠";
}

function treeHtml(d) {
  if (!d.tree.length) return `<div class="empty">no ReplicaSets yet</div>`;
  return `<ul class="tree" data-tree>${d.tree.map((rev) => `<li><span class="rev"># revision:${
    rev.revision}</span><ul>${rev.replicaSets.map((rs) => `<li data-rs="${esc(rs.name)}">
      <span class="rs">⧉ ${esc(rs.name)}</span>
      <span class="${statusClass(rs.status)}">${podIcon(rs.status)} ${esc(rs.status)}</span>
      ${rs.roles.map((r) => `<span class="tag ${esc(r)}">${esc(r)}</span>`).join("")}
      <span class="tag">${rs.available}/${rs.replicas}</span>
      ${rs.scaleDownAt ? `<span class="tag">delay:${Math.max(0, Math.round(rs.scaleDownAt - now()))}s</span>` : ""}
      <span class="mono muted">${esc(rs.images.join(", "))}</span>
      <ul>${rs.pods.map((p) => `<li class="pod" data-pod="${esc(p.name)}">□ ${esc(p.name)}
        <span class="${statusClass(p.status)}">${podIcon(p.status)} ${esc(p.status)}</span>
        <span class="tag">ready:${esc(p.ready)}</span>${p.restarts ? `<span class="tag">restarts:${p.restarts}</span>` : ""}
        <span class="tag">${esc(age(p.createdAt))}</span></li>`).join("")}</ul></li>`).join("")}
    </ul></li>`).join("")}</ul>`;
}

function trafficHtml(d) {
  const traffic = state.traffic[keyOf(d)] || d.traffic;
  if (!traffic || !traffic.length) return "";
  const rows = traffic.flatMap((t) => t.groups.map((g) => `<tr><td>${esc(t.service)}:${esc(t.port)}</td>
    <td>${esc(g.group)}</td><td>${g.revision ? `rev ${esc(g.revision)}` : ""}</td>
    <td class="n">${g.active}</td><td class="n">${g.total}</td><td class="n">${g.failed}</td>
    <td class="n">${fmtBytes(g.bytesIn + g.bytesOut)}</td></tr>`));
  return `<div class="card"><h2>Traffic</h2><div class="scroll"><table class="traffic" data-traffic>
    <tr><th>service</th><th>group</th><th>revision</th><th>active</th><th>total</th><th>failed</th>
    <th>bytes</th></tr>${rows.join("")}</table></div></div>`;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

function actionsHtml(d) {
  const routed = d.strategy === "Canary" || d.strategy === "BlueGreen";
  const buttons = [d.paused ? "resume" : "pause"];
  if (routed) buttons.push("promote", "promote-full", "abort", "retry");
  buttons.push("restart");
  const revisions = (state.history && state.history.key === keyOf(d)) ? state.history.revisions : [];
  const options = revisions.slice().reverse().filter((r) => r.revision !== d.revision)
    .map((r) => `<option value="${r.revision}">rev ${r.revision}</option>`).join("");
  return `<div class="actions">${buttons.map((a) => `<button type="button" data-action="${a}"
    class="${a === "abort" ? "danger" : ""}">${esc(ACTIONS[a])}</button>`).join("")}
    <select id="undo-to" aria-label="undo to revision"><option value="">previous</option>${options}</select>
    <button type="button" data-action="undo" class="ghost">undo</button></div>`;
}

function summaryHtml(d) {
  const r = d.replicas;
  const c = d.canary;
  return `<div class="card" data-summary>
    <a class="back" href="#/">← all deployments</a>
    <h1>${esc(d.name)} <span class="phase ${esc(d.phase)}" data-phase>${esc(d.phase)}</span></h1>
    ${d.message ? `<div class="message">${esc(d.message)}</div>` : ""}
    ${d.invalid.length ? `<div class="banner error">${esc(d.invalid[0])}</div>` : ""}
    <dl class="kv"><dt>namespace</dt><dd>${esc(d.namespace)}</dd>
      <dt>strategy</dt><dd>${esc(d.strategy)}</dd>
      ${c ? `<dt>step</dt><dd>${c.step}/${c.steps}</dd><dt>weight</dt>
        <dd data-canary-weight>set ${c.setWeight}% · actual ${c.actualWeight}%</dd>` : ""}
      <dt>images</dt><dd class="mono" data-images>${esc(d.images.map((i) => i.image +
        (i.roles.length ? ` (${i.roles.join(", ")})` : "")).join(", "))}</dd>
      <dt>replicas</dt><dd class="mono">desired ${r.desired} · current ${r.current} · updated ${
        r.updated} · ready ${r.ready} · available ${r.available}</dd>
      <dt>revision</dt><dd>${d.revision ?? ""}</dd></dl>
    ${c ? `<div class="weight"><span>canary</span><progress class="bar" max="100"
      value="${c.actualWeight}"></progress><span class="mono">${c.actualWeight}%</span></div>` : ""}
    ${actionsHtml(d)}</div>`;
}

function historyHtml(key) {
  const h = state.history;
  if (!h || h.key !== key) return `<div class="card"><h2>History</h2><div class="empty">loading…</div></div>`;
  const revs = h.revisions.slice().reverse();
  const pick = state.pick && state.pick.key === key ? state.pick : {};
  const from = pick.from ?? (revs[1] || {}).revision;
  const to = pick.to ?? (revs[0] || {}).revision;
  const rows = revs.map((r) => `<label><input type="radio" name="from" value="${r.revision}"
      ${r.revision === from ? "checked" : ""} aria-label="from ${r.revision}">
    <input type="radio" name="to" value="${r.revision}" ${r.revision === to ? "checked" : ""}
      aria-label="to ${r.revision}">
    <b>${r.revision}</b> <span class="mono">${esc(r.images.join(", "))}</span>
    <span class="muted">${esc(r.changeCause)}</span></label>`).join("");
  const diff = state.diff && state.diff.key === key ? diffHtml(state.diff.text) : "";
  return `<div class="card" data-history><h2>History</h2>
    <div class="history">${rows || `<div class="empty">no revisions</div>`}</div>
    ${revs.length > 1 ? `<div class="actions"><button type="button" id="diff-button" class="ghost">diff from → to</button></div>` : ""}
    ${diff}</div>`;
}

function diffHtml(text) {
  if (!text) return `<pre class="diff" data-diff>(no difference)</pre>`;
  return `<pre class="diff" data-diff>${text.split("\n").map((line) => {
    const cls = line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add"
      : line.startsWith("-") ? "del" : "";
    return cls ? `<span class="${cls}">${esc(line)}</span>` : esc(line);
  }).join("\n")}</pre>`;
}

function renderDetail() {
  const main = $("main");
  const pane = $("detail-pane");
  const d = state.selected && state.deps.get(state.selected);
  if (!d) {
    pane.hidden = true;
    main.className = "no-detail";
    return;
  }
  pane.hidden = false;
  main.className = "has-detail";
  const events = state.events.filter((e) => e.involvedObject.kind === "Deployment" &&
    `${e.involvedObject.namespace}/${e.involvedObject.name}` === state.selected).slice(-30).reverse();
  const keepUndo = $("undo-to") ? $("undo-to").value : "";
  $("detail").innerHTML = summaryHtml(d) + trafficHtml(d) +
    `<div class="card"><h2>Tree</h2>${treeHtml(d)}</div>` + historyHtml(state.selected) +
    `<div class="card"><h2>Events</h2><ol class="events">${events.map((e) => eventHtml(e, false)).join("") ||
      `<li class="empty">no events</li>`}</ol></div>`;
  if (keepUndo && $("undo-to")) $("undo-to").value = keepUndo;
}

async function loadHistory(key) {
  const [ns, name] = key.split("/");
  const r = await api(`/api/v1/namespaces/${encodeURIComponent(ns)}/deployments/${encodeURIComponent(name)}/history`);
  if (!r.ok) return;
  const body = await r.json();
  state.history = { key, revisions: body.revisions };
  if (state.selected === key) renderDetail();
}

async function loadDiff(key, from, to) {
  const [ns, name] = key.split("/");
  const r = await api(`/api/v1/namespaces/${encodeURIComponent(ns)}/deployments/${
    encodeURIComponent(name)}/diff?from=${from}&to=${to}`);
  const body = await r.json();
  state.diff = { key, from, to, text: r.ok ? body.diff : body.message };
  renderDetail();
}

async function act(action) {
  const d = state.deps.get(state.selected);
  if (!d) return;
  if (!state.token) { showTokenForm("actions need the API token"); return; }
  const verb = action === "promote-full" ? "promote" : action;
  const body = action === "promote-full" ? { full: true } : {};
  if (action === "undo" && $("undo-to").value) body.toRevision = Number($("undo-to").value);
  if ((action === "abort" || action === "undo") &&
      !window.confirm(`${ACTIONS[action]} ${d.name}?`)) return;
  for (const b of document.querySelectorAll("[data-action]")) b.disabled = true;
  try {
    const r = await api(`/api/v1/namespaces/${encodeURIComponent(d.namespace)}/deployments/${
      encodeURIComponent(d.name)}/${verb}`, {
      method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
    });
    const result = await r.json();
    banner(result.message || `${verb}: HTTP ${r.status}`, r.ok ? "" : "error");
    if (verb === "undo") loadHistory(state.selected);
  } catch (e) {
    banner(String(e.message || e), "error");
  } finally {
    for (const b of document.querySelectorAll("[data-action]")) b.disabled = false;
  }
}

// -- routing, token ---------------------------------------------------------------------

function route() {
  const m = location.hash.match(/^#\/([^/]+)\/([^/]+)$/);
  const key = m ? `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}` : null;
  if (key !== state.selected) {
    state.selected = key;
    state.diff = null;
    if (key) loadHistory(key).catch(() => {});
    renderList();
  }
  renderDetail();
  if (key) window.scrollTo(0, 0);
}

function showTokenForm(why) {
  $("token-form").hidden = false;
  if (why) banner(why, "error");
  $("token-input").focus();
}

// -- live -------------------------------------------------------------------------------

function apply(event, data) {
  if (event === "hello") {
    state.clockSkew = data.now - Date.now() / 1000;
  } else if (event === "deployment") {
    let historyStale = false;
    for (const d of data) {
      const key = keyOf(d);
      const h = state.history;
      if (key === state.selected && (!h || h.key !== key || h.revisions.length !== d.tree.length)) {
        historyStale = true;  // a revision was added (or the history never loaded)
      }
      state.deps.set(key, d);
      delete state.traffic[key];
    }
    updateCards(data);
    if (state.selected && data.some((d) => keyOf(d) === state.selected)) {
      if (historyStale) loadHistory(state.selected).catch(() => {});
      renderDetail();
    }
  } else if (event === "deleted") {
    for (const d of data) state.deps.delete(keyOf(d));
    renderList();
    renderDetail();
  } else if (event === "event") {
    takeEvents(data);
    state.stats.events += data.length;
    state.stats.lastEventAt = Date.now();
    renderEvents();
    if (state.selected) renderDetail();
  } else if (event === "traffic") {
    state.traffic = data;
    if (state.selected) renderDetail();
  } else if (event === "resync") {
    throw new Error("resync");
  }
}

async function snapshot() {
  const started = performance.now();
  const r = await api("/api/v1/dashboard");
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const body = await r.json();
  state.clockSkew = body.now - Date.now() / 1000;
  state.deps = new Map(body.deployments.map((d) => [keyOf(d), d]));
  state.events = body.events;
  renderList();
  renderEvents();
  route();
  if (state.stats.firstRenderMs === null) {
    state.stats.firstRenderMs = performance.now() - started;  // the snapshot's fetch + render
    state.stats.firstRenderAt = performance.now();  // since navigation started
  }
}

async function stream() {
  const r = await api("/api/v1/stream", { headers: { Accept: "text/event-stream" } });
  if (!r.ok || !r.body) throw new Error(`stream: HTTP ${r.status}`);
  const live = $("live");
  live.textContent = "live";
  live.className = "live";
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of chunk.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) apply(event, JSON.parse(data.join("\n")));
    }
  }
}

async function run() {
  let delay = 500;
  for (;;) {
    try {
      await snapshot();
      banner("");
      delay = 500;
      await stream();
    } catch (e) {
      if (String(e.message) !== "resync") banner(`disconnected: ${e.message || e}; retrying`, "error");
    }
    $("live").textContent = "offline";
    $("live").className = "live off";
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("filter").addEventListener("input", renderList);
  $("token-button").addEventListener("click", () => {
    const form = $("token-form");
    form.hidden = !form.hidden;
    if (!form.hidden) $("token-input").focus();
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token-input").value.trim();
    localStorage.setItem(TOKEN_KEY, state.token);
    $("token-input").value = "";
    $("token-form").hidden = true;
    banner("token saved in this browser");
  });
  $("token-clear").addEventListener("click", () => {
    state.token = "";
    localStorage.removeItem(TOKEN_KEY);
    $("token-form").hidden = true;
    banner("token forgotten");
  });
  $("detail").addEventListener("click", (e) => {
    const button = e.target.closest("[data-action]");
    if (button) { act(button.dataset.action); return; }
    if (e.target.id === "diff-button") {
      const from = document.querySelector("input[name=from]:checked");
      const to = document.querySelector("input[name=to]:checked");
      if (from && to) loadDiff(state.selected, Number(from.value), Number(to.value));
    }
  });
  $("detail").addEventListener("change", (e) => {
    if (e.target.name !== "from" && e.target.name !== "to") return;
    const pick = state.pick && state.pick.key === state.selected ? state.pick : { key: state.selected };
    pick[e.target.name] = Number(e.target.value);
    state.pick = pick;
  });
  window.addEventListener("hashchange", route);
  setInterval(() => { if (state.selected) renderDetail(); renderEvents(); }, 10000);
  run();
});
