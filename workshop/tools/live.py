"""`make live` (python -m workshop live): a projector view of a RUNNING step 2, on LIVE_PORT.

One page (workshop/templates/live/), pushed to with Server-Sent Events: each request to the
task API as a row of bars, one per hop (Nginx, Gunicorn/Flask, publish, queue wait, worker,
result write); beside it the queue, each worker and what it runs now (Celery's events: step 2's
workers run with -E), and the last minute's rate and p50/p99.

Where the figures come from, all read incrementally (nothing is read twice):
- Nginx's access log and the spans file (.run/step02/): tailed from where they ended when the
  view started; a finished request's bars are `make trace`'s segments (trace.join);
- Celery's events, received in a thread: a task received, started, done; a task received a
  second time is a redelivered one (its first worker died before acknowledging it);
- the queue, once a second: its ready messages and consumers from a passive declare over AMQP
  (exact at that instant), its unacknowledged ones from RabbitMQ's management API (which
  RabbitMQ refreshes every 5 s: `collect_statistics_interval`).

    python -m workshop live            # then open http://localhost:8870

With --room (`make live ROOM=1`), the same page follows the room as a cluster instead (make room,
workshop/tools/room.py): the room's queue and the workers that joined it, from the events in
the room's virtual host; no Nginx and no spans there, so each task is a row of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx
from celery.events.state import heartbeat_expires
from rich.console import Console

from workshop.environment import StepEnvironment
from workshop.probe import port_in_use
from workshop.settings import ROOT, Settings, scheme
from workshop.tools import launcher_pid
from workshop.tools.trace import Paths, TraceIncomplete, epoch, join

PAGE = ROOT / "workshop" / "templates" / "live"
KEEP = 60  # requests (and tasks) kept in memory: the page shows the newest that fit
KEEP_TRACES = 4 * KEEP  # traces whose spans are kept: the polls' GET requests have spans too
READ_AT_MOST = 4 * 1024 * 1024  # bytes read from a file per look: a burst is read over a few
MINUTE = 60.0
EVERY = 0.25  # seconds between two looks at the files, and between two pushes
NO_SPANS_AFTER = 3.0  # seconds after Nginx's answer: a request without spans is untraced
QUEUE_EVERY = 1.0  # seconds between two questions about the queue
TASK_API = "/api/process_data"

# make trace's segments (trace.py) → the view's hops, in their order.
HOPS = {
    "Nginx → Gunicorn": "nginx",
    "Flask: record the id": "flask",
    "publish (AMQP)": "publish",
    "waiting in the queue": "queue",
    "running in the worker": "worker",
    "storing the result": "result",
}


class Tail:
    """The JSON lines appended to a file since the last look (none when it does not exist).
    A file that shrank or was replaced (a new run, rotated logs) is read from its start."""

    def __init__(self, path: Path, from_end: bool = True):
        self.path, self.offset, self.rest, self.inode = path, 0, b"", None
        if from_end:
            with contextlib.suppress(OSError):
                status = path.stat()
                self.offset, self.inode = status.st_size, status.st_ino

    def read(self) -> list[dict]:
        try:
            status = self.path.stat()
        except OSError:
            return []
        if status.st_ino != self.inode or status.st_size < self.offset:
            self.offset, self.rest, self.inode = 0, b"", status.st_ino
        if status.st_size == self.offset:
            return []
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read(READ_AT_MOST)
        self.offset += len(data)
        *lines, self.rest = (self.rest + data).split(b"\n")  # the last one may be half written
        rows = []
        for line in lines:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        return rows


@dataclass
class Attempt:
    """One delivery of a task to a worker, from Celery's events."""

    worker: str
    pid: int | None
    received: float
    started: float | None = None
    ended: float | None = None
    # succeeded, failed; lost: the worker died, RabbitMQ delivers the message again; requeued:
    # its pool process died, the worker gave the message back (task_reject_on_worker_lost)
    outcome: str = ""


@dataclass
class Task:
    task_id: str
    seen: float  # when the view first heard of it (time.time())
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def redelivered(self) -> bool:
        return len(self.attempts) > 1

    @property
    def state(self) -> str:
        if not self.attempts:
            return "queued"
        last = self.attempts[-1]
        if last.outcome in ("succeeded", "failed"):
            return {"succeeded": "done", "failed": "failed"}[last.outcome]
        return "running" if last.started and not last.outcome else "queued"


@dataclass
class Request:
    request_id: str
    seen: float
    task_id: str | None = None


@dataclass
class Worker:
    name: str
    pid: int | None = None
    freq: float = 2.0
    heartbeat: float = 0.0
    processed: int = 0
    succeeded: int = 0  # the task-succeeded events seen since the view started
    running: list[str] = field(default_factory=list)
    gone_pids: list[int] = field(default_factory=list)  # incarnations that died
    offline: bool = False

    def alive(self, now: float) -> bool:
        return not self.offline and now < heartbeat_expires(self.heartbeat, self.freq)


def bounded_put(mapping: OrderedDict, key, value, keep: int) -> None:
    mapping[key] = value
    mapping.move_to_end(key)
    while len(mapping) > keep:
        mapping.popitem(last=False)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Board:
    """Everything the page shows, fed by the file tails and the events thread."""

    def __init__(self, paths: Paths | None, workers: list[str] | None, from_end: bool = True):
        """`paths` None: no Nginx log and no spans (the room); `workers` None: every worker
        whose events come is shown (the room's learners join under names of their own)."""
        self.lock = threading.Lock()
        self.room = paths is None
        self.access = Tail(paths.access_log, from_end) if paths else None
        self.spans = Tail(paths.spans, from_end) if paths else None
        self.spans_path = paths.spans if paths else None
        self.known_workers = workers
        self.requests: OrderedDict[str, Request] = OrderedDict()  # the rows
        # What a row is drawn from, kept longer than the rows: a burst's access lines and spans
        # come in different orders, and a row made again later finds them.
        self.lines: OrderedDict[str, dict] = OrderedDict()
        self.traces: OrderedDict[str, list[dict]] = OrderedDict()
        self.tasks: OrderedDict[str, Task] = OrderedDict()
        self.task_request: dict[str, str] = {}
        self.workers: dict[str, Worker] = {name: Worker(name) for name in workers or []}
        self.answers: deque[tuple[float, float]] = deque(maxlen=50_000)  # (when, seconds)
        self.results: deque[tuple[float, float]] = deque(maxlen=50_000)
        self.counted: OrderedDict[str, bool] = OrderedDict()  # tasks in self.results
        self.queue: dict = {"known": False}
        self.any_span = False
        self.again: set[str] = set()  # every task received a second time, since the start
        self.runs: deque[tuple[float, float]] = deque(maxlen=50_000)  # (when, run time) of each

    # -- the files -----------------------------------------------------------------------
    def read_files(self) -> None:
        if self.access is None or self.spans is None:
            return
        lines, spans = self.access.read(), self.spans.read()
        with self.lock:
            for line in lines:
                self.on_access(line)
            for span in spans:
                self.on_span(span)

    def on_access(self, line: dict) -> None:
        request_id = line.get("request_id")
        if not request_id:
            return
        self.answers.append((line.get("msec", time.time()), line.get("request_time", 0.0)))
        method, _, rest = line.get("request", "").partition(" ")
        if method == "POST" and rest.startswith(TASK_API):
            bounded_put(self.lines, request_id, line, KEEP_TRACES)
            request = self.requests.get(request_id) or Request(request_id, time.time())
            bounded_put(self.requests, request_id, request, KEEP)

    def on_span(self, span: dict) -> None:
        try:
            trace_id = span["context"]["trace_id"].removeprefix("0x")
        except (KeyError, AttributeError):
            return
        self.any_span = True
        attributes = span.get("attributes") or {}
        # Only the traces of the rows: the clients' polls (GET /api/tasks/...) have spans too,
        # many more of them, and would push the rows' spans out.
        publishes = span.get("name", "").startswith("apply_async/")
        posted = span.get("kind") == "SpanKind.SERVER" and attributes.get("http.method") == "POST"
        if not (publishes or posted or trace_id in self.traces or trace_id in self.requests):
            return
        spans = self.traces.get(trace_id, [])
        spans.append(span)
        bounded_put(self.traces, trace_id, spans, KEEP_TRACES)
        name = span.get("name", "")
        if name.startswith("store ") and name.split(" ")[-1] in ("SUCCESS", "FAILURE"):
            self.count_result(trace_id, spans, epoch(span["end_time"]))
        if span.get("name", "").startswith("apply_async/"):
            task_id = attributes.get("messaging.message.id")
            if task_id:
                request = self.requests.get(trace_id) or Request(trace_id, time.time())
                request.task_id = task_id
                bounded_put(self.requests, trace_id, request, KEEP)
                self.task_request[task_id] = trace_id
                if len(self.task_request) > 2 * KEEP_TRACES:  # more than the tasks kept
                    self.task_request.pop(next(iter(self.task_request)))

    def count_result(self, trace_id: str, spans: list[dict], end: float) -> None:
        """From Nginx's first byte (else Flask's) to the stored result, for the minute's p50
        and p99; once per trace."""
        line = self.lines.get(trace_id)
        server = next((s for s in spans if s.get("kind") == "SpanKind.SERVER"), None)
        if trace_id in self.counted or (line is None and server is None):
            return
        begun = line["msec"] - line["request_time"] if line else epoch(server["start_time"])
        self.results.append((end, end - begun))
        bounded_put(self.counted, trace_id, True, 8 * KEEP)

    # -- Celery's events -----------------------------------------------------------------
    def on_event(self, event: dict) -> None:
        name = event.get("hostname", "")
        if self.known_workers is not None and name not in self.known_workers:
            return  # another step's worker on the same broker
        kind, when = event.get("type", ""), event.get("timestamp") or time.time()
        with self.lock:
            worker = self.workers.get(name) or self.workers.setdefault(name, Worker(name))
            pid = event.get("pid")
            if kind.startswith("worker-"):
                if pid and worker.pid and pid != worker.pid:
                    self.died(worker, worker.pid)  # a new incarnation: the old one is gone
                worker.pid = pid or worker.pid
                worker.offline = kind == "worker-offline"
                worker.freq = float(event.get("freq") or worker.freq)
                worker.heartbeat = when if not worker.offline else 0.0
                worker.processed = event.get("processed", worker.processed)
                return
            task_id = event.get("uuid")
            if not task_id:
                return
            task = self.tasks.get(task_id) or Task(task_id, time.time())
            bounded_put(self.tasks, task_id, task, KEEP_TRACES)
            if kind == "task-received":
                if task.attempts:
                    self.again.add(task_id)
                for earlier in task.attempts:
                    if not earlier.outcome:  # its worker died before acknowledging it
                        earlier.outcome, earlier.ended = "lost", when
                        self.died(self.workers[earlier.worker], earlier.pid)
                task.attempts.append(Attempt(name, pid, when))
                return
            attempt = next((a for a in reversed(task.attempts) if a.worker == name), None)
            if attempt is None:  # the view started after it was received
                attempt = Attempt(name, pid, when)
                task.attempts.append(attempt)
            if kind == "task-started":
                attempt.started = when
                if task_id not in worker.running:
                    worker.running.append(task_id)
            elif kind == "task-rejected" and event.get("requeue"):
                attempt.outcome, attempt.ended = "requeued", when
                with contextlib.suppress(ValueError):
                    worker.running.remove(task_id)
            elif kind in ("task-succeeded", "task-failed"):
                attempt.outcome = "succeeded" if kind == "task-succeeded" else "failed"
                attempt.ended = when
                if kind == "task-succeeded":
                    worker.succeeded += 1
                    self.runs.append((when, float(event.get("runtime") or 0.0)))
                attempt.started = attempt.started or when
                with contextlib.suppress(ValueError):
                    worker.running.remove(task_id)

    def died(self, worker: Worker, pid: int | None) -> None:
        if pid and pid not in worker.gone_pids:
            worker.gone_pids.append(pid)
        if pid == worker.pid:
            worker.heartbeat = 0.0  # gone now, until it comes back with a new pid
        for task_id in list(worker.running):  # what it ran is not running there any more
            task = self.tasks.get(task_id)
            if task is None or any(
                a.pid == pid and a.outcome in ("", "lost") for a in task.attempts
            ):
                worker.running.remove(task_id)

    # -- what the page gets --------------------------------------------------------------
    def snapshot(self) -> dict:
        now = time.time()
        with self.lock:
            rows = [self.row(request, now) for request in self.requests.values()]
            linked = {request.task_id for request in self.requests.values()}
            # Tasks seen by a worker but never by Nginx or in a span (tracing off, or a task
            # published from elsewhere): rows of their own once a span had time to come.
            for task in self.tasks.values():
                alone = task.task_id not in linked and task.task_id not in self.task_request
                if alone and (self.room or now - task.seen > NO_SPANS_AFTER):
                    rows.append(self.row(Request("", task.seen, task_id=task.task_id), now))
            rows.sort(key=lambda row: row["start"], reverse=True)
            recent = [s for t, s in self.answers if t > now - MINUTE]
            done = [s for t, s in self.results if t > now - MINUTE]
            workers = [self.worker_row(worker, now) for worker in self.workers.values()]
            # Off when requests came and no span did (the spans file may be an older run's).
            untraced = any(row["untraced"] for row in rows)
            tracing = self.any_span or bool(
                self.spans_path and self.spans_path.exists() and not untraced
            )
            ran = [s for t, s in self.runs if t > now - MINUTE]
            again = len(self.again)
        return {
            "now": now,
            "mode": "room" if self.room else "step",
            "redelivered": again,
            "rows": rows[:KEEP],
            "workers": workers,
            "queue": self.queue,
            "minute": {
                "requests": len(recent),
                "rate": len(recent) / MINUTE,
                "p50_ms": ms(percentile(recent, 0.50)),
                "p99_ms": ms(percentile(recent, 0.99)),
                "done": len(done),
                "done_p50_ms": ms(percentile(done, 0.50)),
                "done_p99_ms": ms(percentile(done, 0.99)),
                # The workers' side (the room's panel): tasks run, and how long each ran.
                "ran": len(ran),
                "ran_rate": len(ran) / MINUTE,
                "run_p50_ms": ms(percentile(ran, 0.50)),
                "run_p99_ms": ms(percentile(ran, 0.99)),
            },
            "tracing": tracing,
        }

    def worker_row(self, worker: Worker, now: float) -> dict:
        alive = worker.alive(now)
        return {
            "name": worker.name,
            "pid": worker.pid,
            "alive": alive,
            "state": "up" if alive else ("gone" if worker.heartbeat or worker.gone_pids else "?"),
            "running": list(worker.running) if alive else [],
            "processed": worker.processed,
            "succeeded": worker.succeeded,
            "gone_pids": list(worker.gone_pids),
        }

    def row(self, request: Request, now: float) -> dict:
        task = self.tasks.get(request.task_id) if request.task_id else None
        spans = self.traces.get(request.request_id, [])
        access = self.lines.get(request.request_id)
        segments, exact = [], False
        if request.task_id and spans:
            try:
                timeline = join(request.task_id, spans, access)
            except TraceIncomplete:
                timeline = None
            if timeline is not None and (task is None or task.state in ("done", "failed")):
                exact = True
                segments = [
                    {
                        "hop": HOPS[hop],
                        "from": timeline.started_at + start / 1000,
                        "to": timeline.started_at + (start + duration) / 1000,
                    }
                    for hop, start, duration in timeline.segments
                ]
                if task is not None and task.redelivered:
                    segments = with_attempts(segments, task)
        if not exact:
            segments = provisional(access, spans, task, now)
        untraced = (
            access is not None
            and not spans
            and now - access.get("msec", now) > NO_SPANS_AFTER
            and request.request_id != ""
        )
        state = task.state if task else ("answered" if access and not request.task_id else "queued")
        if exact and task is None:
            state = "done"
        worker = next((a.worker for a in reversed(task.attempts)), "") if task else ""
        start = segments[0]["from"] if segments else request.seen
        return {
            "id": request.request_id or request.task_id,
            "task_id": request.task_id or "",
            "request": (access or {}).get("request", ""),
            "status": (access or {}).get("status"),
            "answer_ms": ms((access or {}).get("request_time")),
            "state": state,
            "worker": worker,
            "redelivered": bool(task and task.redelivered),
            "attempts": [a.worker for a in task.attempts] if task else [],
            "traced": bool(spans),
            "untraced": untraced,
            "exact": exact,
            "start": start,
            "segments": segments,
        }


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def provisional(access: dict | None, spans: list[dict], task: Task | None, now: float) -> list:
    """The bars of a request still under way, from what has arrived: Nginx's line, the spans of
    the web request (its batch comes within 200 ms), and the worker's events. A bar whose end
    is not known yet goes on until now ("to": None)."""
    segments: list[dict] = []
    server = next((s for s in spans if s.get("kind") == "SpanKind.SERVER"), None)
    publish = next((s for s in spans if s.get("name", "").startswith("apply_async/")), None)
    cursor = None
    if server and publish:
        flask, sent, left = (
            epoch(server["start_time"]),
            epoch(publish["start_time"]),
            epoch(publish["end_time"]),
        )
        if access:
            begun = min(access["msec"] - access["request_time"], flask)
            segments.append({"hop": "nginx", "from": begun, "to": flask})
        segments += [
            {"hop": "flask", "from": flask, "to": max(flask, sent)},
            {"hop": "publish", "from": sent, "to": max(sent, left)},
        ]
        cursor = left
    elif access:  # Nginx's own time only: tracing is off, or the spans are on their way
        begun = access["msec"] - access["request_time"]
        segments.append({"hop": "nginx", "from": begun, "to": access["msec"], "whole": True})
        cursor = access["msec"]
    if task is None:
        if cursor is not None and publish is not None:
            segments.append({"hop": "queue", "from": cursor, "to": None})
        return segments
    for attempt in task.attempts:
        if cursor is None:
            cursor = attempt.received
        if attempt.started is None:
            segments.append({"hop": "queue", "from": cursor, "to": attempt.ended})
            cursor = attempt.ended
            if cursor is None:
                return segments
            continue
        segments.append({"hop": "queue", "from": cursor, "to": max(cursor, attempt.started)})
        bar = {"hop": "worker", "from": attempt.started, "to": attempt.ended}
        bar["worker"] = attempt.worker
        if attempt.outcome in ("lost", "requeued"):
            bar["lost"] = True
        segments.append(bar)
        cursor = attempt.ended
        if cursor is None:
            return segments
    if (not task.attempts or task.attempts[-1].outcome == "requeued") and cursor is not None:
        segments.append({"hop": "queue", "from": cursor, "to": None})  # back in the queue
    return segments


def with_attempts(segments: list[dict], task: Task) -> list[dict]:
    """make trace's segments of a redelivered task, its queue wait cut where the first worker
    took it, ran it and died, and where the message was delivered again."""
    queue = next((s for s in segments if s["hop"] == "queue"), None)
    if queue is None:
        return segments
    cut, cursor = [], queue["from"]
    for attempt in task.attempts[:-1]:
        if attempt.started is None or attempt.ended is None:
            continue
        began = min(max(cursor, attempt.started), queue["to"])
        ended = min(max(began, attempt.ended), queue["to"])
        cut.append({"hop": "queue", "from": cursor, "to": began})
        cut.append({"hop": "worker", "from": began, "to": ended, "lost": True})
        cut[-1]["worker"] = attempt.worker
        cursor = ended
    cut.append({"hop": "queue", "from": cursor, "to": queue["to"]})
    index = segments.index(queue)
    for segment in segments[index + 1 :]:
        if segment["hop"] == "worker":
            segment["worker"] = task.attempts[-1].worker
    return segments[:index] + cut + segments[index + 1 :]


# -- the sources that are not files --------------------------------------------------------
class Events(threading.Thread):
    """Celery's events from the step's broker, into the board, until stop()."""

    def __init__(self, broker: str, board: Board):
        super().__init__(name="celery-events", daemon=True)
        self.broker, self.board, self.receiver = broker, board, None
        self.stopping = threading.Event()
        self.connected = False

    def run(self) -> None:
        from celery import Celery
        from kombu import Connection

        app = Celery("live", set_as_current=False)
        while not self.stopping.is_set():
            try:
                # A connection of its own to this broker: Celery's broker_url would prefer
                # a CELERY_BROKER_URL in the environment (another virtual host than the room's).
                with Connection(self.broker, connect_timeout=5) as connection:
                    self.receiver = app.events.Receiver(connection, handlers={"*": self.on})
                    self.connected = True
                    for _ in self.receiver.consume(limit=None, timeout=None, wakeup=True):
                        if self.stopping.is_set():
                            break
            except Exception:  # noqa: BLE001  the broker went away: try again in a second
                self.connected = False
                self.stopping.wait(1)
        app.close()

    def on(self, event: dict) -> None:
        self.board.on_event(event)

    def stop(self) -> None:
        self.stopping.set()
        if self.receiver is not None:
            self.receiver.should_stop = True


def management_api(broker: str, queue: str, base: str | None = None) -> tuple[str, tuple]:
    """The URL of the queue in RabbitMQ's management API (port 15672 on the broker's host),
    and the broker's own user and password (guest/guest on loopback by default)."""
    parts = urlsplit(broker)
    vhost = unquote(parts.path[1:]) if parts.path not in ("", "/") else "/"
    base = base or f"http://{parts.hostname or 'localhost'}:15672"
    url = f"{base}/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}"
    return url, (unquote(parts.username or "guest"), unquote(parts.password or "guest"))


def queue_figures(client: httpx.Client, url: str, auth: tuple) -> dict:
    try:
        answer = client.get(url, auth=auth)
    except httpx.HTTPError as error:
        return {"known": False, "why": f"RabbitMQ's management API does not answer ({error})"}
    if answer.status_code == 404:  # declared by the first worker that consumes it
        return {"known": True, "ready": 0, "unacked": 0, "consumers": 0}
    if answer.status_code != 200:
        return {"known": False, "why": f"RabbitMQ's management API said {answer.status_code}"}
    body = answer.json()
    return {
        "known": True,
        "ready": body.get("messages_ready", 0),
        "unacked": body.get("messages_unacknowledged", 0),
        "consumers": body.get("consumers", 0),
    }


def declared_now(connection, queue: str) -> tuple[int, int] | None:
    """(ready messages, consumers) of the queue at this instant: AMQP's passive queue.declare,
    which RabbitMQ answers from the queue itself. None when the queue does not exist yet."""
    from amqp.exceptions import NotFound

    channel = connection.channel()
    try:
        _, ready, consumers = channel.queue_declare(queue=queue, passive=True)
        return ready, consumers
    except NotFound:  # declared by the first worker that consumes it; the channel is closed
        return None
    finally:
        with contextlib.suppress(Exception):
            channel.close()


class Readers(threading.Thread):
    """The files every EVERY seconds, the queue every QUEUE_EVERY seconds."""

    def __init__(
        self, board: Board, queue_url: str | None, auth: tuple, broker: str | None, queue: str
    ):
        super().__init__(name="live-readers", daemon=True)
        self.board, self.queue_url, self.auth = board, queue_url, auth
        self.broker, self.queue = broker, queue
        self.stopping = threading.Event()

    def run(self) -> None:
        from kombu import Connection

        asked = 0.0
        connection = Connection(self.broker, connect_timeout=2) if self.broker else None
        with httpx.Client(timeout=2) as client:
            while not self.stopping.is_set():
                self.board.read_files()
                if self.queue_url and time.monotonic() - asked > QUEUE_EVERY:
                    asked = time.monotonic()
                    figures = queue_figures(client, self.queue_url, self.auth)
                    if connection is not None:
                        figures = self.exact(connection, figures)
                    with self.board.lock:
                        self.board.queue = figures
                self.stopping.wait(EVERY)
        if connection is not None:
            connection.release()

    def exact(self, connection, figures: dict) -> dict:
        """The management API's figures with the ready count and consumers of this instant."""
        try:
            now = declared_now(connection, self.queue)
        except Exception:  # noqa: BLE001  the broker went away: the API's figures, or why not
            with contextlib.suppress(Exception):
                connection.close()  # reconnected at the next question
            return {**figures, "exact": False}
        ready, consumers = now or (0, 0)
        unacked = figures.get("unacked", 0) if figures.get("known") else None
        return {
            "known": True,
            "ready": ready,
            "unacked": unacked,
            "consumers": consumers,
            "exact": True,
        }

    def stop(self) -> None:
        self.stopping.set()


# -- the web page --------------------------------------------------------------------------
def make_app(board: Board, title: str, stopping: threading.Event):
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Route

    async def page(request):
        return FileResponse(PAGE / "index.html")

    async def asset(request):
        name = request.path_params["name"]
        if name not in ("live.js", "live.css"):
            return JSONResponse({"error": "no such file"}, status_code=404)
        return FileResponse(PAGE / name)

    async def snapshot(request):
        return JSONResponse({**board.snapshot(), "title": title})

    async def events(request):
        import anyio

        # Set by sse-starlette when uvicorn stops (Ctrl-C): the stream says goodbye and ends
        # its response, instead of being cancelled in the middle of it.
        shutdown = anyio.Event()

        async def stream():
            last = None
            while not stopping.is_set() and not await request.is_disconnected():
                state = await asyncio.to_thread(board.snapshot)
                text = json.dumps({**state, "title": title})
                if text != last:  # only changes travel
                    yield {"event": "board", "data": text}
                    last = text
                with anyio.move_on_after(EVERY):
                    await shutdown.wait()
                if shutdown.is_set():
                    yield {"event": "stopped", "data": "{}"}
                    return

        return EventSourceResponse(
            stream(), ping=5, shutdown_event=shutdown, shutdown_grace_period=2
        )

    return Starlette(
        routes=[
            Route("/", page),
            Route("/static/{name}", asset),
            Route("/board.json", snapshot),
            Route("/events", events),
        ]
    )


def live(env: StepEnvironment, port: int, console: Console) -> int:
    step = env.step
    front = env.ports[step.main_port.name]
    if launcher_pid(step) is None:
        console.print(
            f"[red]✗ {step.name} is not running[/] (no `make {step.name}` in "
            f"{env.run_dir}). Start it in another terminal: make {step.name}"
        )
        return 1
    if port_in_use(port):
        return port_taken(port, console)
    paths = Paths.of(step, env.settings)
    board = Board(paths, env.worker_names())
    broker = env.variables.get("CELERY_BROKER_URL", env.settings.celery_broker_url)
    queue_url, auth = (None, ())
    if scheme(broker) == "amqp":
        queue_url, auth = management_api(broker, env.queue)
    console.print(
        f"[bold]The live view of {step.name}[/]: http://localhost:{port}  "
        f"(requests through Nginx on :{front}; Ctrl-C stops it)"
    )
    if not os.access(paths.access_log.parent, os.R_OK):
        console.print(f"  waiting for {paths.access_log}")
    title = f"{step.name} on :{front}"
    amqp = broker if scheme(broker) == "amqp" else None
    return serve(board, title, port, amqp, env.queue, queue_url, auth, console)


def live_room(settings: Settings, port: int, console: Console) -> int:
    """The room as a cluster (make room): its queue, and every worker that joined it."""
    from workshop.tools.room import load_room, room_file

    room = load_room(settings)
    if room is None:
        console.print(
            f"[red]✗ no room is open here[/] ({room_file(settings)} does not exist): make room"
        )
        return 1
    if port_in_use(port):
        return port_taken(port, console)
    broker = room.admin_url()  # the instructor's account, in the room's virtual host
    queue_url, auth = management_api(broker, room.queue, room.management)
    console.print(
        f"[bold]The live view of the room {room.name!r}[/]: http://localhost:{port}  "
        "(its workers as they join; Ctrl-C stops it)"
    )
    title = f"the room {room.name}"
    return serve(Board(None, None), title, port, broker, room.queue, queue_url, auth, console)


def port_taken(port: int, console: Console) -> int:
    console.print(
        f"[red]✗ port {port} is taken[/]: another `make live`? Choose another: LIVE_PORT=8871"
    )
    return 1


def serve(
    board: Board,
    title: str,
    port: int,
    broker: str | None,
    queue: str,
    queue_url: str | None,
    auth: tuple,
    console: Console,
) -> int:
    """The page on `port` until Ctrl-C, fed by the readers and, on RabbitMQ, the events."""
    import uvicorn

    stopping = threading.Event()
    readers = Readers(board, queue_url, auth, broker, queue)
    events = Events(broker, board) if broker else None
    config = uvicorn.Config(
        make_app(board, title, stopping), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    readers.start()
    if events:
        events.start()
    else:
        console.print("  the broker is not RabbitMQ: no events, no queue figures")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        readers.stop()
        if events:
            events.stop()
        readers.join(2)
        if events:
            events.join(2)
        console.print("The live view stopped.")
    return 0
