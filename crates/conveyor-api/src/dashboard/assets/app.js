// Conveyor's dashboard. Reads the operator routes every 10 s and acts through them; builds the
// page with textContent only (message bodies are untrusted); every change carries the page's
// CSRF token.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const state = { chartQueue: null, overview: null, dlq: null };

function $(id) { return document.getElementById(id); }

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function utc(ms) {
  if (typeof ms !== "number") return "–";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

function age(seconds) {
  if (typeof seconds !== "number") return "–";
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  return Math.round(seconds / 3600) + " h";
}

function showProblem(text) {
  const p = $("problem");
  p.textContent = text || "";
  p.hidden = !text;
}

async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 || response.status === 403) {
    showProblem("Not signed in (or the session ended): reload the page to sign in.");
  }
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch (_) { value = { error: { message: text } }; }
  if (!response.ok) {
    const message = value && value.error ? value.error.message : response.statusText;
    throw new Error(method + " " + path + ": " + message);
  }
  return value;
}

function last(series) {
  for (let i = series.length - 1; i >= 0; i--) if (series[i] !== null) return series[i];
  return null;
}

function drawChart(id, values) {
  const svg = $("chart-" + id);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const points = values.map((v, i) => [i, v]).filter(([, v]) => typeof v === "number");
  const peak = points.reduce((m, [, v]) => Math.max(m, v), 0);
  svg.dataset.points = String(points.length);
  svg.dataset.peak = String(peak);
  const scale = peak > 0 ? peak : 1;
  const offset = 360 - values.length;
  const xy = points.map(([i, v]) => [offset + i, 98 - (v / scale) * 94]);
  // One sample is a dot's worth of line, so the first interval shows too.
  if (xy.length === 1) xy.unshift([xy[0][0] - 3, xy[0][1]]);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", xy.map(([x, y]) => x + "," + y.toFixed(1)).join(" "));
  svg.appendChild(line);
  $("peak-" + id).textContent = points.length ? "peak " + peak + ", now " + points[points.length - 1][1] : "no samples yet";
}

function drawCharts() {
  const o = state.overview;
  if (!o) return;
  const q = o.queues.find((x) => x.name === state.chartQueue) || o.queues[0];
  if (!q) return;
  state.chartQueue = q.name;
  $("chart-queue").textContent = q.name;
  drawChart("throughput", q.series.throughput);
  drawChart("errors", q.series.error_rate);
  drawChart("depth", q.series.visible);
  for (const tr of $("queues").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.queue === q.name);
}

function renderQueues(o) {
  const body = $("queues").tBodies[0];
  body.replaceChildren();
  for (const q of o.queues) {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.name;
    const name = cell(tr, q.name + (q.paused ? " (paused)" : ""), "mono");
    name.title = "show its charts";
    cell(tr, q.visible, "num");
    cell(tr, q.in_flight, "num");
    cell(tr, q.delayed, "num");
    cell(tr, age(q.oldest_age_seconds), "num");
    cell(tr, q.dlq_visible, "num");
    const rate = last(q.series.throughput);
    cell(tr, rate === null ? "–" : rate + "/s", "num");
    const errors = last(q.series.error_rate);
    cell(tr, errors === null ? "–" : errors + " %", "num");
    const actions = cell(tr, "");
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.textContent = q.paused ? "Resume" : "Pause";
    toggle.className = "pause";
    toggle.addEventListener("click", (e) => {
      e.stopPropagation();
      act(() => call("POST", "/v1/admin/queues/" + encodeURIComponent(q.name) + (q.paused ? "/resume" : "/pause")),
        (q.paused ? "resumed " : "paused ") + q.name);
    });
    actions.appendChild(toggle);
    tr.addEventListener("click", () => { state.chartQueue = q.name; drawCharts(); });
    body.appendChild(tr);
  }
  const select = $("dlq-select");
  const chosen = select.value;
  select.replaceChildren();
  for (const q of o.queues) {
    if (!q.dlq) continue;
    const option = document.createElement("option");
    option.value = q.dlq;
    option.textContent = q.dlq + " (" + (q.dlq_visible === null ? "?" : q.dlq_visible) + ")";
    select.appendChild(option);
  }
  if (chosen) select.value = chosen;
}

function renderAlarms(o) {
  const body = $("alarms").tBodies[0];
  body.replaceChildren();
  for (const a of o.alarms) {
    const tr = document.createElement("tr");
    const link = document.createElement("a");
    link.className = "id";
    link.textContent = a.name;
    link.addEventListener("click", () => showAlarmHistory(a.name));
    const first = document.createElement("td");
    first.appendChild(link);
    tr.appendChild(first);
    cell(tr, a.state, "state-" + a.state);
    cell(tr, utc(a.since));
    cell(tr, "> " + a.threshold + " (" + a.datapoints_to_alarm + " of " + a.evaluation_periods + " × " + a.period + ")");
    const told = a.notifications ? Object.entries(a.notifications).map(([c, d]) => c + ": " + d.outcome).join(", ") : "–";
    cell(tr, told);
    body.appendChild(tr);
  }
  if (!o.alarms.length) {
    const tr = document.createElement("tr");
    cell(tr, "No alarms: add [queues.X.alarms] rules to the configuration.").colSpan = 5;
    body.appendChild(tr);
  }
}

async function showAlarmHistory(name) {
  const v = await call("GET", "/v1/admin/alarms/" + encodeURIComponent(name) + "/history?max=20");
  const box = $("alarm-history");
  box.replaceChildren();
  const h = document.createElement("h3");
  h.textContent = "History of " + name;
  box.appendChild(h);
  const table = document.createElement("table");
  for (const c of v.changes) {
    const tr = document.createElement("tr");
    cell(tr, utc(c.at));
    cell(tr, c.from + " → " + c.to, "state-" + c.to);
    cell(tr, c.reason);
    table.appendChild(tr);
  }
  box.appendChild(table);
}

function renderFailures(o) {
  const body = $("failures").tBodies[0];
  body.replaceChildren();
  for (const f of o.failures) {
    const tr = document.createElement("tr");
    cell(tr, utc(f.at));
    cell(tr, f.queue, "mono");
    tr.appendChild(idCell(f.message_id, f.queue));
    cell(tr, f.receive_count, "num");
    cell(tr, f.outcome);
    cell(tr, f.error, "body");
    body.appendChild(tr);
  }
  if (!o.failures.length) {
    const tr = document.createElement("tr");
    cell(tr, "No failures seen by this process's workers.").colSpan = 6;
    body.appendChild(tr);
  }
}

function idCell(id, queue) {
  const td = document.createElement("td");
  const link = document.createElement("a");
  link.className = "id";
  link.textContent = id;
  link.addEventListener("click", () => showTimeline(id, queue));
  td.appendChild(link);
  return td;
}

async function refresh() {
  try {
    const o = await call("GET", "/v1/admin/overview");
    state.overview = o;
    renderQueues(o);
    renderAlarms(o);
    renderFailures(o);
    drawCharts();
    $("updated").textContent = "updated " + utc(Date.now()) + " UTC";
    if (!state.dlq && $("dlq-select").value) await peek();
  } catch (e) {
    showProblem(e.message);
  }
}

async function peek() {
  const queue = $("dlq-select").value;
  if (!queue) return;
  state.dlq = queue;
  const v = await call("GET", "/v1/admin/queues/" + encodeURIComponent(queue) + "/messages?max=50");
  const body = $("dlq").tBodies[0];
  body.replaceChildren();
  for (const m of v.messages) {
    const tr = document.createElement("tr");
    tr.dataset.messageId = m.message_id;
    const pick = document.createElement("td");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = m.message_id;
    box.setAttribute("aria-label", "select " + m.message_id);
    pick.appendChild(box);
    tr.appendChild(pick);
    tr.appendChild(idCell(m.message_id, m.source_queue || queue));
    cell(tr, m.receive_count, "num");
    cell(tr, m.source_queue, "mono");
    cell(tr, m.last_error, "body");
    cell(tr, typeof m.body === "string" ? m.body : JSON.stringify(m.body), "body mono");
    const attributes = Object.entries(m.attributes).map(([k, a]) => k + "=" + (a.string_value === null ? "(" + a.data_type + ")" : a.string_value));
    cell(tr, attributes.length ? attributes.join(", ") : "–", "mono");
    body.appendChild(tr);
  }
  let status = v.messages.length + " message(s) in " + queue + (v.next ? " (more not shown)" : "");
  if (v.counted_as_receive) status += "; on SQS a peek is a receive, so their receive counts went up";
  $("dlq-status").textContent = status;
}

function selected() {
  return Array.from($("dlq").querySelectorAll("input[type=checkbox]:checked")).map((b) => b.value);
}

// Run an action, then redraw; what it did is said first, before the fresh listing's summary.
async function act(run, done) {
  let said = done;
  try {
    showProblem("");
    await run();
  } catch (e) {
    said = "";
    showProblem(e.message);
  }
  await refresh();
  if (state.dlq) await peek().catch((e) => showProblem(e.message));
  if (said) $("dlq-status").textContent = said + ". " + $("dlq-status").textContent;
}

async function showTimeline(id, queue) {
  const query = queue ? "?queue=" + encodeURIComponent(queue) : "";
  try {
    const v = await call("GET", "/v1/admin/messages/" + encodeURIComponent(id) + "/timeline" + query);
    $("timeline-section").hidden = false;
    $("timeline-id").textContent = id;
    const now = v.status ? v.status.status : "unknown";
    $("timeline-status").textContent = "now: " + now + (v.status && v.status.queue ? " in " + v.status.queue : "");
    const result = $("timeline-result");
    result.hidden = !(v.status && v.status.result_key);
    if (!result.hidden) {
      $("timeline-result-key").textContent = v.status.result_key;
      $("timeline-output").textContent = JSON.stringify(v.status.output === undefined ? v.status.error : v.status.output, null, 2);
    }
    const body = $("timeline").tBodies[0];
    body.replaceChildren();
    for (const e of v.events) {
      const tr = document.createElement("tr");
      cell(tr, utc(e.at));
      cell(tr, e.event);
      cell(tr, e.attempt, "num");
      cell(tr, e.queue, "mono");
      const detail = [];
      if (typeof e.duration_ms === "number") detail.push(e.duration_ms + " ms");
      for (const k of ["error", "detail", "result_key", "dead_letter_message_id", "from"]) if (e[k]) detail.push(String(e[k]));
      cell(tr, detail.join("; ") || "–", "body");
      body.appendChild(tr);
    }
    $("timeline-section").scrollIntoView();
  } catch (e) {
    showProblem(e.message);
  }
}

function sourceOf(dlq) {
  const q = state.overview && state.overview.queues.find((x) => x.dlq === dlq);
  return q ? q.name : null;
}

document.addEventListener("DOMContentLoaded", () => {
  $("dlq-peek").addEventListener("click", () => peek().catch((e) => showProblem(e.message)));
  $("dlq-select").addEventListener("change", () => peek().catch((e) => showProblem(e.message)));
  $("dlq-redrive-selected").addEventListener("click", () => {
    const ids = selected();
    if (!ids.length) { showProblem("Select the messages to redrive first."); return; }
    const queue = $("dlq-select").value;
    act(async () => {
      const v = await call("POST", "/v1/admin/queues/" + encodeURIComponent(queue) + "/redrive", { message_ids: ids });
      if (v.not_found.length) throw new Error("not found (gone, or in flight): " + v.not_found.join(", "));
    }, "redrove " + ids.length + " message(s) to " + (sourceOf(queue) || "their source"));
  });
  $("dlq-redrive-all").addEventListener("click", () => {
    const queue = $("dlq-select").value;
    act(() => call("POST", "/v1/admin/queues/" + encodeURIComponent(queue) + "/redrive", {}),
      "redrive of every message in " + queue + " started");
  });
  $("dlq-purge").addEventListener("click", () => {
    $("purge-confirm").hidden = false;
    $("purge-name").value = "";
    $("purge-name").focus();
  });
  $("purge-cancel").addEventListener("click", () => { $("purge-confirm").hidden = true; });
  $("purge-now").addEventListener("click", () => {
    const queue = $("dlq-select").value;
    if ($("purge-name").value.trim() !== queue) {
      showProblem("The name typed is not " + queue + ": nothing was purged.");
      return;
    }
    $("purge-confirm").hidden = true;
    act(() => call("POST", "/v1/admin/queues/" + encodeURIComponent(queue) + "/purge"), "purged " + queue);
  });
  $("signout").addEventListener("click", async () => {
    await fetch("/dashboard/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    window.location.reload();
  });
  refresh();
  setInterval(refresh, 10000);
});
