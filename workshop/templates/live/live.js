// The live view of step 2: the board pushed by /events (Server-Sent Events), drawn on a time
// axis of the last WINDOW seconds. One row per request, one bar per hop; a bar still under way
// grows until now. No library, nothing remote.
"use strict";

const WINDOW = 20; // seconds shown, "now" at the right edge
const byId = (id) => document.getElementById(id);
let board = null, offset = 0; // offset: the server's clock minus this one, in seconds

function now() { return Date.now() / 1000 + offset; }
function short(id) { return (id || "").slice(0, 8); }
function shortName(name) { return name.split("@")[0]; }
function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}
function el(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function say(text, problem = false) {
  byId("status").textContent = text;
  byId("status").className = problem ? "problem" : "";
}

// Bars side by side: a hop of a few milliseconds still shows (at least MIN %), and pushes the
// next one along instead of hiding under it.
const MIN = 0.4;
function drawRow(row, left, at) {
  const item = el("li", {
    class: "row", "data-id": row.id, "data-task": row.task_id, "data-state": row.state,
    "data-redelivered": row.redelivered ? "yes" : "no", "data-worker": row.worker,
  });
  const label = el("span", { class: "label" });
  label.append(el("span", { class: "id" }, short(row.task_id || row.id)));
  label.append(el("span", { class: "state" }, row.state));
  label.title = `${row.request || "task " + row.task_id} · answered in ${ms(row.answer_ms)}`;
  const track = el("span", { class: "track" });
  let pushed = 0;
  for (const segment of row.segments) {
    const end = segment.to === null ? at : segment.to;
    let x = ((segment.from - left) / WINDOW) * 100;
    let width = ((end - segment.from) / WINDOW) * 100;
    x = Math.max(x, pushed);
    width = Math.max(width, MIN);
    pushed = x + width;
    if (x + width < 0 || x > 100) continue;
    const bar = el("span", {
      class: segment.lost ? "bar lost" : "bar", "data-hop": segment.hop,
      "data-open": segment.to === null ? "yes" : "no",
      title: `${segment.hop}${segment.worker ? " " + segment.worker : ""}: ${ms((end - segment.from) * 1000)}`,
    });
    const from = Math.max(x, 0);
    bar.style.left = `${from}%`;
    bar.style.width = `${Math.min(x + width, 100) - from}%`;
    if (segment.hop === "worker" && segment.worker && width > 6)
      bar.append(el("span", { class: "who" }, segment.lost ? `${shortName(segment.worker)} killed` : shortName(segment.worker)));
    track.append(bar);
  }
  if (row.redelivered)
    track.append(el("span", { class: "again" }, `↻ redelivered: ${row.attempts.map(shortName).join(" → ")}`));
  if (row.untraced)
    track.append(el("span", { class: "note-untraced" }, `no spans: Nginx's ${ms(row.answer_ms)} only`));
  item.append(label, track);
  return item;
}

function drawRows() {
  if (!board) return;
  const at = now(), left = at - WINDOW;
  const rows = byId("rows");
  // As many as fit: the list clips the rest (a row is 2.2rem high).
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
  const fit = Math.max(1, Math.floor(rows.clientHeight / (2.2 * rem)));
  rows.replaceChildren(...board.rows.slice(0, fit).map((row) => drawRow(row, left, at)));
  byId("empty").hidden = board.rows.length > 0;
}

function drawSide() {
  const queue = board.queue;
  byId("ready").textContent = queue.known ? queue.ready : "?";
  byId("unacked").textContent = queue.known && queue.unacked !== null ? queue.unacked : "?";
  // Ready: asked over AMQP, exact each second. Unacked: the management API's, up to 5 s old.
  byId("queue-note").textContent = !queue.known ? queue.why || "no figures"
    : queue.exact ? `${queue.consumers} consumers · unacked from the management API (up to 5 s old)`
    : `${queue.consumers} consumers · RabbitMQ's management API (its figures lag up to 5 s)`;
  const room = board.mode === "room";
  byId("again").textContent = board.redelivered;
  const workers = byId("workers");
  workers.replaceChildren(...board.workers.map((worker) => {
    const item = el("li", { "data-name": worker.name, "data-state": worker.state, "data-died": worker.gone_pids.length, "data-ran": worker.succeeded });
    item.append(el("span", { class: "name" }, shortName(worker.name)));
    // The room: what each learner's worker ran while the view watched; step 2: the worker's
    // own count since it started (its heartbeats).
    if (room) item.append(` ${worker.succeeded} ran${worker.state === "up" ? "" : " · " + worker.state}`);
    else item.append(` ${worker.state === "up" ? "pid " + worker.pid : worker.state} · ${worker.processed} done`);
    item.append(el("span", { class: "runs" }, worker.running.length ? `runs ${worker.running.map(short).join(", ")}` : (worker.state === "up" ? "idle" : "")));
    if (worker.gone_pids.length)
      item.append(el("span", { class: "died" }, `killed: pid ${worker.gone_pids.join(", ")}${worker.state === "up" ? ", back as " + worker.pid : ""}`));
    return item;
  }));
  const minute = board.minute;
  const rate = room ? minute.ran_rate : minute.rate;
  byId("rate").textContent = rate.toFixed(rate < 1 ? 2 : 1);
  byId("rate-unit").textContent = room ? "tasks/s" : "req/s";
  byId("p-label").textContent = room ? "run" : "answer";
  byId("done-line").hidden = room;
  byId("count").textContent = room ? `${minute.ran} tasks ran` : `${minute.requests} requests, ${minute.done} results`;
  byId("p50").textContent = ms(room ? minute.run_p50_ms : minute.p50_ms);
  byId("p99").textContent = ms(room ? minute.run_p99_ms : minute.p99_ms);
  byId("done-p50").textContent = ms(minute.done_p50_ms);
  byId("done-p99").textContent = ms(minute.done_p99_ms);
}

function receive(data) {
  board = JSON.parse(data);
  offset = board.now - Date.now() / 1000;
  byId("title").textContent = board.title;
  document.body.dataset.tracing = board.tracing ? "on" : "off";
  document.body.dataset.mode = board.mode;
  if (board.mode === "room") {
    say("live · the room: each task from its workers' events");
    byId("empty").textContent = "No task yet: make room-send N=500";
  }
  else say(board.tracing ? "live" : "live · tracing is off (OTEL_SDK_DISABLED): Nginx's time, and the tasks from the workers' events", !board.tracing);
  drawSide();
  drawRows();
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("board", (event) => receive(event.data));
  source.addEventListener("stopped", () => {
    source.close();
    say("`make live` stopped: start it again, then reload this page", true);
  });
  source.onerror = () => say("connection lost: is `make live` still running? retrying…", true);
}

connect();
setInterval(drawRows, 200); // bars under way grow with the clock between two pushes
addEventListener("resize", drawRows);
