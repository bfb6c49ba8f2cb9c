// The canvas page: draw a workflow as a graph, follow its states with Server-Sent Events (or
// polling, where EventSource is missing or fails). Any workflow, wherever it was started (the
// form, curl, a notebook): /canvas?workflow=<id> shows one, and the list beside the graph has the
// recent ones. No library, nothing remote.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const H = 74, GAP_Y = 24, MARGIN = 20, MIN_W = 180, MAX_W = 300, MIN_GAP = 40;
const FINAL = new Set(["SUCCESS", "FAILURE", "REVOKED", "NOT RUN"]);
const graph = document.getElementById("graph");
const statusLine = document.getElementById("status");
const rows = document.querySelector("#tasks tbody");
const recentList = document.getElementById("recent");
let stream = null, poller = null, current = null, shown = null, asked = 0;

function el(name, attributes = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function say(text, problem = false) {
  statusLine.textContent = text;
  statusLine.className = problem ? "error" : "";
}

// Columns by depth: a node comes after every node that has an edge to it.
function columnsOf(nodes, edges) {
  const depth = Object.fromEntries(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++)
    for (const [from, to] of edges) depth[to] = Math.max(depth[to], depth[from] + 1);
  const columns = [];
  for (const n of nodes) (columns[depth[n.id]] ||= []).push(n.id);
  return columns;
}

// Spread the columns over the width the graph has; the boxes grow up to MAX_W. Where the window
// is narrower than the boxes need, the drawing is scaled down to fit (its viewBox) instead.
function place() {
  if (!shown) return;
  const { columns, edges } = shown;
  const available = graph.getBoundingClientRect().width || 1;
  const needed = columns.length * (MIN_W + MIN_GAP) - MIN_GAP + 2 * MARGIN;
  const width = Math.max(available, needed);
  const slot = (width - 2 * MARGIN) / columns.length;
  const w = Math.min(MAX_W, columns.length > 1 ? slot - MIN_GAP : slot);
  const tallest = Math.max(...columns.map((c) => c.length));
  const height = tallest * (H + GAP_Y) - GAP_Y + 2 * MARGIN;
  const at = {};
  columns.forEach((members, column) => {
    const top = MARGIN + ((tallest - members.length) * (H + GAP_Y)) / 2;
    members.forEach((id, row) => {
      at[id] = { x: MARGIN + column * slot + (slot - w) / 2, y: top + row * (H + GAP_Y) };
      const group = document.getElementById(`node-${id}`);
      group.setAttribute("transform", `translate(${at[id].x} ${at[id].y})`);
      group.querySelector("rect").setAttribute("width", w);
    });
  });
  edges.forEach(([from, to], index) => {
    const a = at[from], b = at[to], bend = (b.x - a.x - w) / 2;
    document.getElementById(`edge-${index}`).setAttribute("d",
      `M ${a.x + w} ${a.y + H / 2} C ${a.x + w + bend} ${a.y + H / 2}, ` +
      `${b.x - bend} ${b.y + H / 2}, ${b.x} ${b.y + H / 2}`);
  });
  graph.setAttribute("viewBox", `0 0 ${width} ${height}`);
  graph.setAttribute("height", Math.round((height * available) / width));
}

function clear() {
  graph.replaceChildren();
  graph.setAttribute("height", 0);
  graph.removeAttribute("viewBox");
  graph.setAttribute("data-finished", "no");
  rows.replaceChildren();
  shown = null;
}

function draw(workflow) {
  clear();
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#778" }));
  defs.append(marker);
  graph.append(defs);
  graph.setAttribute("data-workflow", workflow.id);
  workflow.edges.forEach((_, index) => graph.append(el("path", { class: "edge", id: `edge-${index}` })));
  for (const n of workflow.nodes) {
    const group = el("g", { class: "node", id: `node-${n.id}`, "data-state": "PENDING" });
    group.append(el("rect", { height: H }), el("text", { x: 12, y: 22 }, n.label),
      el("text", { x: 12, y: 44, class: "state" }, "PENDING"), el("text", { x: 12, y: 63, class: "time" }, ""));
    graph.append(group);
    const row = document.createElement("tr");
    row.id = `row-${n.id}`;
    for (const name of ["label", "state", "time", "value", "cancel"]) {
      const cell = document.createElement("td");
      cell.className = name;
      row.append(cell);
    }
    row.cells[0].textContent = n.label;
    row.cells[0].title = n.id;
    row.cells[1].textContent = "PENDING";
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "cancel";
    button.onclick = () => cancel(n.id);
    row.cells[4].append(button);
    rows.append(row);
  }
  shown = { columns: columnsOf(workflow.nodes, workflow.edges), edges: workflow.edges };
  place();
}

function seconds(info, now) {
  if (!info.started_at) return "";
  const end = info.finished_at || (FINAL.has(info.state) ? info.started_at : now);
  return `${Math.max(0, end - info.started_at).toFixed(2)} s`;
}

function update(snapshot) {
  if (snapshot.id !== current) return;  // a late answer about an earlier workflow
  const now = Date.now() / 1000;
  for (const [id, info] of Object.entries(snapshot.states)) {
    const group = document.getElementById(`node-${id}`), row = document.getElementById(`row-${id}`);
    if (!group) continue;
    let label = info.state;
    if (info.progress) label += ` ${info.progress.done}/${info.progress.total}`;
    group.setAttribute("data-state", info.state);
    group.querySelector(".state").textContent = label;
    group.querySelector(".time").textContent = seconds(info, now);
    row.querySelector(".state").textContent = label;
    row.querySelector(".time").textContent = seconds(info, now);
    const value = row.querySelector(".value");
    value.textContent = info.error ?? (info.result !== undefined ? JSON.stringify(info.result) : "");
    value.className = info.error ? "value error" : "value";
    row.querySelector("button").disabled = FINAL.has(info.state);
  }
  say(snapshot.finished ? `Workflow ${snapshot.id} (${snapshot.kind}) finished.`
    : `Workflow ${snapshot.id} (${snapshot.kind}) is running…`);
  graph.setAttribute("data-finished", snapshot.finished ? "yes" : "no");
}

function stop() {
  if (stream) stream.close();
  if (poller) clearInterval(poller);
  stream = poller = null;
}

function poll(id) {  // the fallback: ask every half second, for ten minutes at most
  const until = Date.now() + 600_000;
  poller = setInterval(async () => {
    if (Date.now() > until) {
      stop();
      say(`Stopped following workflow ${id}: reload to look again.`);
      return;
    }
    try {
      const answer = await fetch(`/workflows/${id}`);
      if (!answer.ok) return;
      const snapshot = await answer.json();
      update(snapshot);
      if (snapshot.finished && snapshot.id === current) stop();
    } catch {
      // the server is away for a moment: ask again in half a second
    }
  }, 500);
}

function follow(id) {
  if (!window.EventSource) return poll(id);
  stream = new EventSource(`/workflows/${id}/events`);
  stream.addEventListener("state", (event) => update(JSON.parse(event.data)));
  stream.addEventListener("finished", stop);
  const fallBack = () => { stop(); poll(id); };
  // The stream ended early (its time limit, Redis away) or broke: poll instead.
  for (const name of ["timeout", "unavailable", "error"]) stream.addEventListener(name, fallBack);
}

function problem(id, text) {
  clear();
  current = null;
  const what = (text.includes(id) ? text : `"${id}": ${text}`).replace(/\.?$/, ".");
  say(`Cannot show this workflow. ${what} Submit one, or pick one of the recent ones.`, true);
  markCurrent();
}

// Show a workflow by its id, wherever it was started: read its graph and states once, then follow.
async function show(id) {
  stop();
  const ticket = ++asked;  // only the last one asked for is drawn
  if (!id) return problem(id, "No id after ?workflow=.");
  say(`Looking for workflow ${id}…`);
  let answer, body;
  try {
    answer = await fetch(`/workflows/${encodeURIComponent(id)}`);
    body = await answer.json();
  } catch {
    if (ticket === asked) problem(id, "The server did not answer with JSON.");
    return;
  }
  if (ticket !== asked) return;
  if (!answer.ok) return problem(id, `${answer.status}: ${body.detail ?? answer.statusText}`);
  current = body.id;
  draw(body);
  update(body);
  markCurrent();
  if (!body.finished) follow(body.id);
}

// The URL says which workflow is shown: it can be reloaded, shared, and Back goes to the last one.
function go(id) {
  const url = new URL(location.href);
  url.searchParams.set("workflow", id);
  history.pushState({ workflow: id }, "", url);
  return show(id);
}

function fromUrl() {
  const id = new URLSearchParams(location.search).get("workflow");
  if (id !== null) return show(id.trim());
  stop();
  current = null;
  clear();
  say("Submit a workflow, or pick one of the recent ones.");
  markCurrent();
}

function markCurrent() {
  for (const link of recentList.querySelectorAll("a"))
    link.setAttribute("aria-current", link.dataset.id === current ? "true" : "false");
}

function entry(workflow) {
  const link = document.createElement("a");
  link.href = `/canvas?workflow=${encodeURIComponent(workflow.workflow_id)}`;
  link.dataset.id = workflow.workflow_id;
  link.title = workflow.workflow_id;
  const kind = document.createElement("span"), when = document.createElement("span");
  const tasks = document.createElement("span");
  kind.className = "kind";
  kind.textContent = workflow.kind;
  when.className = "when";
  when.textContent = new Date(workflow.submitted_at * 1000).toLocaleTimeString();
  tasks.className = "tasks";
  tasks.textContent = workflow.tasks.join(", ");
  link.append(kind, when, tasks);
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;  // a new tab
    event.preventDefault();
    go(workflow.workflow_id);
  });
  const item = document.createElement("li");
  item.append(link);
  return item;
}

// The recent list: on load, after a submit, and every 5 s while the page is in view, so a
// workflow started with curl appears by itself.
async function refreshRecent() {
  try {
    const answer = await fetch("/workflows");
    if (!answer.ok) return;
    const { workflows } = await answer.json();
    if (workflows.length) recentList.replaceChildren(...workflows.map(entry));
    else recentList.innerHTML = '<li class="hint">None yet: submit one.</li>';
    markCurrent();
  } catch {
    // the server is away for a moment: the next refresh tries again
  }
}

async function cancel(id) {
  const answer = await fetch(`/tasks/${id}`, { method: "DELETE" });
  say((await answer.json()).detail ?? `Task ${id} is being revoked.`);
}

document.getElementById("workflow").addEventListener("submit", async (event) => {
  event.preventDefault();
  stop();
  const form = new FormData(event.target);
  const body = { a: Number(form.get("a")), b: Number(form.get("b")), fail: form.get("fail") === "on" };
  const answer = await fetch(`/workflows/${form.get("kind")}`, { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const submitted = await answer.json();
  if (!answer.ok) {
    say(`Refused (${answer.status}): ${JSON.stringify(submitted.detail)}`, true);
    return;
  }
  asked++;  // an earlier show() still waiting for its answer must not draw over this one
  current = submitted.workflow_id;
  draw({ ...submitted, id: submitted.workflow_id });
  say(`Workflow ${submitted.workflow_id} submitted.`);
  const url = new URL(location.href);
  url.searchParams.set("workflow", submitted.workflow_id);
  history.pushState({ workflow: submitted.workflow_id }, "", url);
  follow(submitted.workflow_id);
  refreshRecent();
});

window.addEventListener("popstate", fromUrl);
new ResizeObserver(place).observe(graph);
setInterval(() => { if (!document.hidden) refreshRecent(); }, 5000);
fromUrl();
refreshRecent();
