// The canvas page: submit a workflow, draw it as a graph, follow its states with Server-Sent
// Events (or polling, where EventSource is missing or fails). No library, nothing remote.
"use strict";

const W = 210, H = 74, GAP_X = 90, GAP_Y = 24, SVG = "http://www.w3.org/2000/svg";
const FINAL = new Set(["SUCCESS", "FAILURE", "REVOKED", "NOT RUN"]);
const graph = document.getElementById("graph");
const statusLine = document.getElementById("status");
const rows = document.querySelector("#tasks tbody");
let stream = null, poller = null, current = null;

function el(name, attributes = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

// Columns by depth: a node comes after every node that has an edge to it.
function layout(nodes, edges) {
  const depth = Object.fromEntries(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++)
    for (const [from, to] of edges) depth[to] = Math.max(depth[to], depth[from] + 1);
  const columns = {};
  for (const n of nodes) (columns[depth[n.id]] ||= []).push(n);
  const tallest = Math.max(...Object.values(columns).map((c) => c.length));
  const place = {};
  for (const [column, members] of Object.entries(columns)) {
    const top = ((tallest - members.length) * (H + GAP_Y)) / 2 + 20;
    members.forEach((n, row) => {
      place[n.id] = { x: 20 + column * (W + GAP_X), y: top + row * (H + GAP_Y) };
    });
  }
  return { place, height: tallest * (H + GAP_Y) + 40 };
}

function draw(workflow) {
  graph.replaceChildren();
  graph.setAttribute("data-finished", "no");
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#778" }));
  defs.append(marker);
  graph.append(defs);
  const { place, height } = layout(workflow.nodes, workflow.edges);
  graph.setAttribute("height", height);
  for (const [from, to] of workflow.edges) {
    const a = place[from], b = place[to];
    graph.append(el("path", { class: "edge",
      d: `M ${a.x + W} ${a.y + H / 2} C ${a.x + W + 45} ${a.y + H / 2}, ${b.x - 45} ${b.y + H / 2}, ${b.x} ${b.y + H / 2}` }));
  }
  rows.replaceChildren();
  for (const n of workflow.nodes) {
    const { x, y } = place[n.id];
    const group = el("g", { class: "node", id: `node-${n.id}`, "data-state": "PENDING",
      transform: `translate(${x} ${y})` });
    group.append(el("rect", { width: W, height: H }), el("text", { x: 12, y: 22 }, n.label),
      el("text", { x: 12, y: 44, class: "state" }, "PENDING"), el("text", { x: 12, y: 63, class: "time" }, ""));
    graph.append(group);
    const row = document.createElement("tr");
    row.id = `row-${n.id}`;
    row.innerHTML = `<td title="${n.id}">${n.label}</td><td class="state">PENDING</td><td class="time"></td>` +
      `<td class="value"></td><td><button type="button">cancel</button></td>`;
    row.querySelector("button").onclick = () => cancel(n.id);
    rows.append(row);
  }
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
  statusLine.textContent = snapshot.finished
    ? `Workflow ${snapshot.id} finished.` : `Workflow ${snapshot.id} is running…`;
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
      statusLine.textContent = `Stopped following workflow ${id}: reload to look again.`;
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

function follow(submitted) {
  current = submitted.workflow_id;
  if (!window.EventSource) return poll(submitted.workflow_id);
  stream = new EventSource(submitted.events_url);
  stream.addEventListener("state", (event) => update(JSON.parse(event.data)));
  stream.addEventListener("finished", stop);
  const fallBack = () => { stop(); poll(submitted.workflow_id); };
  // The stream ended early (its time limit, Redis away) or broke: poll instead.
  for (const name of ["timeout", "unavailable", "error"]) stream.addEventListener(name, fallBack);
}

async function cancel(id) {
  const answer = await fetch(`/tasks/${id}`, { method: "DELETE" });
  statusLine.textContent = (await answer.json()).detail ?? `Task ${id} is being revoked.`;
}

document.getElementById("workflow").addEventListener("submit", async (event) => {
  event.preventDefault();
  stop();
  graph.setAttribute("data-finished", "no");
  const form = new FormData(event.target);
  const body = { a: Number(form.get("a")), b: Number(form.get("b")), fail: form.get("fail") === "on" };
  const answer = await fetch(`/workflows/${form.get("kind")}`, { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const submitted = await answer.json();
  if (!answer.ok) {
    statusLine.textContent = `Refused (${answer.status}): ${JSON.stringify(submitted.detail)}`;
    return;
  }
  draw(submitted);
  statusLine.textContent = `Workflow ${submitted.workflow_id} submitted.`;
  follow(submitted);
});
