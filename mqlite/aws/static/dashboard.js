// mqlite dashboard. Plain JavaScript, no build step, no dependencies.
// Everything that came from the server is put in the page as text (textContent or text
// nodes), never as HTML: names, bodies and attributes cannot inject markup.
"use strict";

const POLL_MS = 2000;
const ACTION_HEADER = "X-Mqlite-Dashboard";
const state = { readOnly: true, queues: [], route: null, timer: null };

// --- small DOM helpers ---------------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "className" || key === "href" || key === "title" || key === "value" ||
             key === "max" || key === "type") node[key] = value;
    else throw new Error("unexpected property " + key);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function $(id) { return document.getElementById(id); }

function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

function queueHref(region, name) {
  return "#/queue/" + encodeURIComponent(region) + "/" + encodeURIComponent(name);
}

function fmtRate(value) {
  if (value === null || value === undefined) return "–";
  if (value === 0) return "0";
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return seconds.toFixed(0) + " s";
  if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
  if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
  return (seconds / 86400).toFixed(1) + " d";
}

function fmtTime(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "–";
}

// --- the API -------------------------------------------------------------------------------

async function api(path, options) {
  const response = await fetch(path, Object.assign({ cache: "no-store" }, options || {}));
  const payload = await response.json();
  if (!response.ok) {
    const error = new Error(payload.error ? payload.error.message : response.statusText);
    error.code = payload.error ? payload.error.code : String(response.status);
    throw error;
  }
  return payload;
}

function post(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", [ACTION_HEADER]: "1" },
    body: JSON.stringify(body || {}),
  });
}

function queuePath(region, name) {
  return "/api/queues/" + encodeURIComponent(region) + "/" + encodeURIComponent(name);
}

function showHeader(payload) {
  state.readOnly = payload.read_only;
  setText($("account"), "account " + payload.account_id);
  $("read-only").hidden = !payload.read_only;
  $("queue-actions").hidden = payload.read_only;
  setText($("status"), "updated " + new Date().toLocaleTimeString());
  $("status").classList.remove("error");
}

// --- the chart -----------------------------------------------------------------------------

const SERIES = [
  { key: "visible", label: "visible", color: "#2563eb", part: 0 },
  { key: "in_flight", label: "in flight", color: "#d97706", part: 0 },
  { key: "delayed", label: "delayed", color: "#8b95a5", part: 0 },
  { key: "send_rate", label: "sent/s", color: "#16a34a", part: 1 },
  { key: "receive_rate", label: "received/s", color: "#9333ea", part: 1 },
  { key: "delete_rate", label: "deleted/s", color: "#dc2626", part: 1 },
];

function drawLegend(node) {
  if (node.childElementCount) return;
  for (const s of SERIES) {
    const item = el("span", {}, s.label);
    item.style.setProperty("--swatch", s.color);
    node.append(item);
  }
}

function drawChart(canvas, samples) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (!width || !height) return;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const styles = getComputedStyle(document.body);
  const muted = styles.getPropertyValue("--muted").trim() || "#777";
  const line = styles.getPropertyValue("--line").trim() || "#ddd";
  ctx.font = "11px system-ui, sans-serif";
  const left = 44, right = 8, gap = 18;
  const partHeight = (height - gap - 16) / 2;
  const times = samples.map((s) => s.time);
  const t1 = times.length ? times[times.length - 1] : 0;
  const t0 = Math.min(times.length ? times[0] : 0, t1 - 60);
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * (width - left - right);
  ["messages", "per second"].forEach((title, part) => {
    const top = 4 + part * (partHeight + gap);
    const keys = SERIES.filter((s) => s.part === part);
    let max = 1;
    for (const s of samples) for (const k of keys) max = Math.max(max, s[k.key] || 0);
    ctx.strokeStyle = line;
    ctx.beginPath();
    ctx.moveTo(left, top + partHeight);
    ctx.lineTo(width - right, top + partHeight);
    ctx.moveTo(left, top);
    ctx.lineTo(width - right, top);
    ctx.stroke();
    ctx.fillStyle = muted;
    ctx.fillText(fmtRate(max), 2, top + 10);
    ctx.fillText("0", 2, top + partHeight);
    ctx.fillText(title, left + 4, top + 11);
    for (const k of keys) {
      ctx.strokeStyle = k.color;
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      let started = false;
      for (const s of samples) {
        const v = s[k.key];
        if (v === null || v === undefined) { started = false; continue; }
        const px = x(s.time), py = top + partHeight - (v / max) * partHeight;
        if (started) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        started = true;
      }
      ctx.stroke();
    }
  });
  ctx.fillStyle = muted;
  const span = Math.round(t1 - t0);
  ctx.fillText("last " + (span >= 120 ? Math.round(span / 60) + " min" : span + " s"),
    left, height - 2);
}

// --- the overview --------------------------------------------------------------------------

const rows = new Map();
const COLUMNS = [
  ["visible", "Visible"], ["in_flight", "In flight"], ["delayed", "Delayed"], ["oldest", "Oldest"],
  ["send", "Sent/s"], ["receive", "Recv/s"], ["delete", "Del/s"],
];

function makeRow(q) {
  const cells = {};
  const link = el("a", { href: queueHref(q.region, q.name) }, q.name);
  const tr = el("tr", { dataset: { queue: q.region + "/" + q.name } });
  tr.append(el("td", { className: "c-name" }, link, q.fifo ? el("span", { className: "tag" }, "FIFO") : null,
    q.is_dead_letter_queue ? el("span", { className: "tag" }, "DLQ") : null));
  const region = el("td", { className: "c-region", dataset: { label: "Region" } }, q.region);
  tr.append(region);
  for (const [key, label] of COLUMNS) {
    cells[key] = el("td", { className: "num c-" + key, dataset: { label } });
    tr.append(cells[key]);
  }
  cells.dlq = el("td", { className: "c-dlq", dataset: { label: "Dead-letter queue" } });
  cells.groups = el("td", { className: "c-groups", dataset: { label: "FIFO groups" } });
  tr.append(cells.dlq, cells.groups);
  return { tr, cells, dlqKey: null };
}

function updateRow(row, q) {
  const c = row.cells;
  setText(c.visible, q.visible);
  setText(c.in_flight, q.in_flight);
  setText(c.delayed, q.delayed);
  setText(c.oldest, fmtAge(q.oldest_age));
  setText(c.send, fmtRate(q.send_rate));
  setText(c.receive, fmtRate(q.receive_rate));
  setText(c.delete, fmtRate(q.delete_rate));
  const d = q.dead_letter_queue;
  const key = d ? d.name + "|" + d.messages + "|" + d.max_receive_count : "";
  if (row.dlqKey !== key) {
    row.dlqKey = key;
    c.dlq.replaceChildren();
    if (d) {
      c.dlq.append(el("span", {}, el("a", { href: queueHref(q.region, d.name) }, d.name), " ",
        el("span", { className: d.messages ? "full" : "muted" },
          (d.messages === null ? "?" : d.messages) + " msgs"),
        el("span", { className: "muted" }, " · after " + d.max_receive_count + " receives")));
    } else {
      c.dlq.append("–");
    }
  }
  setText(c.groups, q.groups === null ? "–" : q.groups);
}

function renderQueues(queues) {
  state.queues = queues;
  const filter = $("queue-filter").value.trim().toLowerCase();
  const body = $("queue-table").tBodies[0];
  const seen = new Set();
  const ordered = [];
  for (const q of queues) {
    const key = q.region + "/" + q.name;
    seen.add(key);
    let row = rows.get(key);
    if (!row) { row = makeRow(q); rows.set(key, row); }
    updateRow(row, q);
    row.tr.hidden = filter !== "" && !q.name.toLowerCase().includes(filter);
    ordered.push(row.tr);
  }
  for (const [key, row] of rows) if (!seen.has(key)) { row.tr.remove(); rows.delete(key); }
  // Re-order only when it changed: moving 1,000 rows every poll would be wasted work.
  const current = Array.from(body.children);
  if (current.length !== ordered.length || current.some((tr, i) => tr !== ordered[i])) {
    body.replaceChildren(...ordered);
  }
  setText($("queue-count"), "(" + queues.length + ")");
  $("no-queues").hidden = queues.length > 0;
  const select = $("chart-queue");
  const options = Array.from(select.options).slice(1).map((o) => o.value);
  const wanted = queues.map((q) => q.region + "/" + q.name);
  if (options.join("\n") !== wanted.join("\n")) {
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "all queues"),
      ...wanted.map((key) => el("option", { value: key }, key)));
    select.value = wanted.includes(chosen) ? chosen : "";
  }
}

function renderTopics(topics) {
  const box = $("topics");
  box.replaceChildren();
  setText($("topic-count"), "(" + topics.length + ")");
  $("no-topics").hidden = topics.length > 0;
  for (const t of topics) {
    const subs = el("div", { className: "subs" });
    for (const s of t.subscriptions) {
      subs.append(el("div", { className: "sub", dataset: { subscription: s.arn } },
        el("div", {}, el("span", { className: "tag" }, s.protocol), " ",
          el("span", { className: "endpoint" }, s.endpoint),
          s.raw_message_delivery ? el("span", { className: "tag" }, "raw") : null,
          s.pending ? el("span", { className: "tag" }, "pending confirmation") : null),
        el("div", { className: "counts" },
          el("span", {}, "delivered ", el("b", { className: "delivered" }, s.delivered)),
          el("span", {}, "filtered ", el("b", { className: "filtered" }, s.filtered)),
          el("span", {}, "failed ", el("b", { className: "failed" }, s.failed)),
          s.dead_letter_queue ? el("span", {}, "dead-lettered ", el("b", {}, s.dead_lettered)) : null),
        s.filter_policy
          ? el("div", {}, el("span", { className: "muted" }, "filter policy (" + s.filter_policy_scope + ")"),
            el("pre", { className: "policy" }, s.filter_policy))
          : el("div", { className: "muted" }, "no filter policy: every message"),
        s.last_error ? el("div", { className: "error" }, "last error: " + s.last_error) : null));
    }
    box.append(el("div", { className: "topic" },
      el("h3", {}, t.name, t.fifo ? el("span", { className: "tag" }, "FIFO") : null,
        el("span", { className: "muted" }, "  " + t.region + " · " + t.published + " published")),
      t.subscriptions.length ? subs : el("p", { className: "muted" }, "No subscriptions.")));
  }
}

async function refreshOverview() {
  const chosen = $("chart-queue").value;
  const historyPath = chosen
    ? queuePath(chosen.slice(0, chosen.indexOf("/")), chosen.slice(chosen.indexOf("/") + 1)) + "/history"
    : "/api/history";
  const [queues, topics, history] = await Promise.all([
    api("/api/queues"), api("/api/topics"), api(historyPath).catch(() => ({ samples: [] })),
  ]);
  showHeader(queues);
  renderQueues(queues.queues);
  renderTopics(topics.topics);
  drawLegend($("overview-legend"));
  drawChart($("overview-chart"), history.samples);
}

// --- one queue -----------------------------------------------------------------------------

function card(label, value, cls) {
  return el("div", { className: "card" }, el("div", { className: "value " + (cls || "") }, value),
    el("div", { className: "label" }, label));
}

function renderQueue(q) {
  setText($("queue-title"), q.name);
  setText($("queue-arn"), q.arn + " · " + q.region + (q.fifo ? " · FIFO" : " · standard"));
  $("queue-cards").replaceChildren(...[
    card("visible", q.visible, "q-visible"), card("in flight", q.in_flight, "q-in-flight"),
    card("delayed", q.delayed, "q-delayed"), card("oldest message", fmtAge(q.oldest_age)),
    card("sent/s", fmtRate(q.send_rate)), card("received/s", fmtRate(q.receive_rate)),
    card("deleted/s", fmtRate(q.delete_rate)),
    card("sent · received · deleted", q.sent + " · " + q.received + " · " + q.deleted, "small"),
    q.groups !== null ? card("FIFO groups", q.groups) : null,
    q.dead_letter_queue ? card("dead-letter queue", el("a",
      { href: queueHref(q.region, q.dead_letter_queue.name) }, q.dead_letter_queue.name), "small") : null,
  ].filter((node) => node !== null));
  $("send-group").hidden = !q.fifo;
  $("redrive-row").hidden = !q.is_dead_letter_queue;
  const settings = $("settings-table").tBodies[0];
  settings.replaceChildren(...Object.entries(q.settings).map(([k, v]) =>
    el("tr", {}, el("td", {}, k), el("td", {}, v === null ? "–" : String(v)))));
  const more = $("queue-more");
  more.replaceChildren();
  if (q.group_counts) {
    more.append(el("h3", {}, "Groups"));
    if (!q.group_counts.length) more.append(el("p", { className: "muted" }, "No messages."));
    for (const g of q.group_counts) more.append(el("div", {}, g.group_id + ": " + g.messages));
  }
  more.append(el("h3", {}, "Dead-letter sources"));
  if (!q.dead_letter_sources.length) more.append(el("p", { className: "muted" }, "None."));
  for (const name of q.dead_letter_sources) {
    more.append(el("div", {}, el("a", { href: queueHref(q.region, name) }, name)));
  }
  more.append(el("h3", {}, "Tags"));
  const tags = Object.entries(q.tags);
  if (!tags.length) more.append(el("p", { className: "muted" }, "None."));
  for (const [k, v] of tags) more.append(el("div", {}, k + " = " + v));
  const tasks = q.redrive_tasks || [];
  $("redrive-panel").hidden = tasks.length === 0;
  $("redrive-tasks").replaceChildren(...tasks.map((t) => el("div", { className: "task" },
    el("b", { className: "task-status" }, t.status), " ",
    el("progress", { max: Math.max(1, t.to_move), value: t.moved }), " ",
    el("span", { className: "task-progress" }, t.moved + " / " + t.to_move + " moved"),
    el("span", { className: "muted" }, " at " + t.rate + "/s, started " + fmtTime(t.started_timestamp)),
    t.failure_reason ? el("div", { className: "error" }, t.failure_reason) : null)));
  const running = tasks.some((t) => t.status === "RUNNING");
  $("redrive-button").disabled = running;
}

function renderMessages(payload) {
  setText($("message-count"), "(" + payload.total + (payload.total > payload.messages.length
    ? ", first " + payload.messages.length + " shown)" : ")"));
  const box = $("messages");
  box.replaceChildren();
  if (!payload.messages.length) box.append(el("p", { className: "muted" }, "The queue is empty."));
  for (const m of payload.messages) {
    const meta = el("div", { className: "meta" },
      el("span", { className: "state-" + m.state }, m.state.replace("_", " ")),
      el("span", {}, "received ", el("b", { className: "receive-count" }, m.receive_count), "×"),
      el("span", {}, "sent " + fmtTime(m.sent_timestamp)),
      m.group_id !== null ? el("span", {}, "group " + m.group_id) : null,
      m.sequence_number ? el("span", {}, "seq " + m.sequence_number) : null,
      el("span", { className: "muted" }, m.message_id));
    const attrs = Object.entries(m.attributes);
    box.append(el("div", { className: "message", dataset: { messageId: m.message_id } }, meta,
      el("pre", { className: "body" }, m.body),
      attrs.length ? el("div", { className: "meta" }, ...attrs.map(([k, a]) =>
        el("span", {}, k + " (" + a.data_type + "): " + (a.value !== undefined ? a.value : "base64 " + a.base64)))) : null));
  }
}

async function refreshQueue(region, name, withMessages) {
  const [detail, history, messages] = await Promise.all([
    api(queuePath(region, name)), api(queuePath(region, name) + "/history"),
    withMessages ? api(queuePath(region, name) + "/messages?limit=50") : null,
  ]);
  showHeader(detail);
  renderQueue(detail.queue);
  drawLegend($("queue-legend"));
  drawChart($("queue-chart"), history.samples);
  if (messages) renderMessages(messages);
}

async function act(label, action) {
  const out = $("action-result");
  out.classList.remove("error");
  setText(out, label + "…");
  try {
    const text = await action();
    setText(out, text);
  } catch (error) {
    out.classList.add("error");
    setText(out, label + " failed: " + error.message);
  }
  await tick(true);
}

// --- routing and polling -------------------------------------------------------------------

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/");
  if (parts[0] === "queue" && parts.length === 3) {
    return { page: "queue", region: decodeURIComponent(parts[1]), name: decodeURIComponent(parts[2]) };
  }
  return { page: "overview" };
}

async function tick(withMessages) {
  const r = state.route;
  try {
    if (r.page === "queue") await refreshQueue(r.region, r.name, withMessages);
    else await refreshOverview();
  } catch (error) {
    if (error.code === "NotFound" && r.page === "queue") {
      show("missing-page");
    } else {
      setText($("status"), "cannot reach the server: " + error.message);
      $("status").classList.add("error");
    }
  }
}

function show(id) {
  for (const page of ["overview-page", "queue-page", "missing-page"]) $(page).hidden = page !== id;
}

async function navigate() {
  state.route = route();
  show(state.route.page === "queue" ? "queue-page" : "overview-page");
  setText($("action-result"), "");
  $("messages").replaceChildren();
  await tick(true);
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    if (!document.hidden) await tick(false);
    schedule();
  }, POLL_MS);
}

function setup() {
  window.addEventListener("hashchange", navigate);
  $("queue-filter").addEventListener("input", () => renderQueues(state.queues));
  $("chart-queue").addEventListener("change", () => tick(false));
  $("peek-button").addEventListener("click", () => tick(true));
  $("send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const { region, name } = state.route;
    const body = { body: $("send-body").value };
    if ($("send-group").value) body.group_id = $("send-group").value;
    if (body.group_id) body.deduplication_id = String(Date.now()) + Math.random();
    act("Send", async () => "Sent message " + (await post(queuePath(region, name) + "/messages", body)).message_id);
  });
  $("purge-button").addEventListener("click", () => {
    const { region, name } = state.route;
    if (!window.confirm("Delete every message in " + name + "?")) return;
    act("Purge", async () => { await post(queuePath(region, name) + "/purge"); return "Purged."; });
  });
  $("redrive-button").addEventListener("click", () => {
    const { region, name } = state.route;
    const rate = Number($("redrive-rate").value) || 100;
    act("Redrive", async () => {
      const task = (await post(queuePath(region, name) + "/redrive", { rate })).task;
      return "Redrive started: " + task.to_move + " to move.";
    });
  });
  window.addEventListener("resize", () => tick(false));
  navigate().then(schedule);
}

setup();
