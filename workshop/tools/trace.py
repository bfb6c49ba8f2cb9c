"""`python -m workshop trace <task-id>`: the timeline of one request, hop by hop.

For a step that traces its hops (step 2: `tracing` in its declaration), it joins Nginx's access
log and the OpenTelemetry spans (.run/step02/) on the trace id, which is Nginx's $request_id,
and cuts the time from "Nginx got the request" to "the result is stored" into back-to-back
segments, so the hops add up to the total.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from workshop.registry import Step
from workshop.settings import Settings
from workshop.waiting import wait_until

FINAL_STATES = ("SUCCESS", "FAILURE")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def read_jsonl(path: Path, containing: str) -> list[dict]:
    """The JSON lines of `path` that contain `containing` (a cheap text test before parsing)."""
    if not path.exists():
        return []
    rows = []
    with path.open(errors="replace") as lines:
        for line in lines:
            if containing not in line:
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line still being written
    return rows


@dataclass
class Timeline:
    task_id: str
    request_id: str
    request: str
    status: int
    worker: str
    http_ms: float
    segments: list[tuple[str, float, float]]  # (hop, start ms, duration ms)
    started_at: float  # epoch seconds at the start of the first segment, to line up many requests

    @property
    def total_ms(self) -> float:
        return sum(duration for _, _, duration in self.segments)

    def as_dict(self) -> dict:
        return {
            "task_id": self.task_id,
            "request_id": self.request_id,
            "request": self.request,
            "status": self.status,
            "worker": self.worker,
            "http_ms": self.http_ms,
            "total_ms": self.total_ms,
            "segments": [{"hop": h, "start_ms": s, "ms": d} for h, s, d in self.segments],
        }


class TraceIncomplete(LookupError):
    pass


@dataclass(frozen=True)
class Paths:
    """Where a running step leaves its spans and its access log."""

    spans: Path
    access_log: Path

    @classmethod
    def of(cls, step: Step, settings: Settings | None = None) -> Paths:
        """`settings`: those of a step started with other settings than this process's (an
        IsolatedStep's, as the notebooks start one); by default, this process's."""
        run_dir = step.run_dir(settings or Settings())
        return cls(run_dir / step.tracing.spans, run_dir / step.tracing.access_log)


def build(task_id: str, paths: Paths) -> Timeline:
    """Assemble the timeline; TraceIncomplete says which piece is still missing."""
    spans = read_jsonl(paths.spans, task_id)
    publish = published(task_id, spans)
    if publish is None:
        raise TraceIncomplete(
            f"no span published task {task_id} "
            "(is it a task of this step? is tracing off, OTEL_SDK_DISABLED?)"
        )
    trace_id = publish["context"]["trace_id"]
    same = [s for s in read_jsonl(paths.spans, trace_id) if s["context"]["trace_id"] == trace_id]
    request_id = trace_id.removeprefix("0x")
    access = next(
        (r for r in read_jsonl(paths.access_log, request_id) if r["request_id"] == request_id),
        None,
    )
    return join(task_id, same, access)


def published(task_id: str, spans: list[dict]) -> dict | None:
    """The span that published task `task_id`, among `spans`."""
    return next(
        (
            s
            for s in spans
            if s["name"].startswith("apply_async/")
            and s["attributes"].get("messaging.message.id") == task_id
        ),
        None,
    )


def join(task_id: str, same: list[dict], access: dict | None) -> Timeline:
    """The timeline of task `task_id` from the spans of its trace (`same`) and Nginx's access-log
    line of the request (None when it came straight to Gunicorn, or is not logged yet); the
    live view (live.py) calls it with what it has read so far."""
    publish = published(task_id, same)
    server = next((s for s in same if s["kind"] == "SpanKind.SERVER"), None)
    run = next((s for s in same if s["name"].startswith("run/")), None)
    stores = [
        s
        for s in same
        if s["name"].split(" ")[-1] in FINAL_STATES and s["name"].startswith("store ")
    ]
    if publish is None:
        raise TraceIncomplete(f"the span that published task {task_id} is not there yet")
    request_id = publish["context"]["trace_id"].removeprefix("0x")
    for piece, name in (
        (server, "the Flask request span"),
        (run, "the worker's run span"),
        (stores, "the span that stored the result"),
    ):
        if not piece:
            raise TraceIncomplete(f"{name} for task {task_id} is not there yet")
    # A request that came through Nginx carries Nginx's span as its parent; one sent straight
    # to Gunicorn has no parent, and no Nginx hop.
    through_nginx = server.get("parent_id") is not None
    if through_nginx and access is None:
        raise TraceIncomplete(f"Nginx's access-log line for task {task_id} is not there yet")

    flask_start = epoch(server["start_time"])
    marks = [("Flask: record the id", flask_start)]
    if through_nginx:
        # Nginx logs with millisecond resolution: never let its start fall after Flask's.
        marks.insert(
            0, ("Nginx → Gunicorn", min(access["msec"] - access["request_time"], flask_start))
        )
    marks += [
        ("publish (AMQP)", epoch(publish["start_time"])),
        ("waiting in the queue", epoch(publish["end_time"])),
        ("running in the worker", epoch(run["start_time"])),
        ("storing the result", epoch(stores[-1]["start_time"])),
    ]
    end = epoch(stores[-1]["end_time"])
    # Marks from two processes may cross: under load, a worker can start the task before the
    # web thread, waiting for a core or the GIL, ends its publish span. The message had left by
    # then, so a mark never falls after the next one: no hop lasts less than nothing.
    for index in reversed(range(len(marks))):
        hop, start = marks[index]
        marks[index] = (hop, min(start, marks[index + 1][1] if index + 1 < len(marks) else end))
    first = marks[0][1]
    segments = []
    for (hop, start), (_, stop) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        segments.append((hop, (start - first) * 1000, (stop - start) * 1000))
    attributes = server["attributes"]
    direct = f"{attributes.get('http.method')} {attributes.get('http.target')} (no Nginx)"
    return Timeline(
        task_id=task_id,
        request_id=request_id,
        request=access["request"] if access else direct,
        status=access["status"] if access else attributes.get("http.status_code", 0),
        worker=stores[-1]["attributes"].get("celery.worker", "?"),
        http_ms=(access["request_time"] if access else epoch(server["end_time"]) - flask_start)
        * 1000,
        segments=segments,
        started_at=first,
    )


def wait_for(task_id: str, paths: Paths, timeout: float = 5) -> Timeline:
    """Spans reach the file in batches: poll briefly before giving up."""
    last = TraceIncomplete("nothing read yet")

    def attempt():
        nonlocal last
        try:
            return build(task_id, paths)
        except TraceIncomplete as error:
            last = error
            return None

    try:
        return wait_until(attempt, timeout, interval=0.2, what="the trace")
    except TimeoutError:
        raise last from None


def print_timeline(timeline: Timeline, console: Console) -> None:
    table = Table(
        title=f"request {timeline.request_id} → task {timeline.task_id}",
        caption=f"{timeline.request} → {timeline.status}",
    )
    table.add_column("hop")
    table.add_column("starts at", justify="right")
    table.add_column("takes", justify="right")
    table.add_column("")
    width = 24
    scale = width / max(timeline.total_ms, 0.001)
    for hop, start, duration in timeline.segments:
        name = f"running in {timeline.worker}" if hop == "running in the worker" else hop
        offset = min(int(start * scale), width - 1)
        bar = " " * offset + "█" * max(1, min(int(duration * scale), width - offset))
        table.add_row(name, f"{start:.1f} ms", f"{duration:.1f} ms", bar)
    table.add_row("[bold]total", "", f"[bold]{timeline.total_ms:.1f} ms", "")
    console.print(table)
    direct = timeline.request.endswith("(no Nginx)")
    measured = "Flask's span" if direct else "Nginx's request_time"
    console.print(
        f"The client had its {timeline.status} answer after {timeline.http_ms:.1f} ms "
        f"({measured}): it did not wait for the task."
    )


def trace_command(task_id: str, step: Step, as_json: bool, console: Console) -> int:
    paths = Paths.of(step)
    try:
        timeline = wait_for(task_id, paths)
    except TraceIncomplete as error:
        console.print(
            f"[red]✗ {error}[/]: spans and logs are in {paths.spans.parent}/ "
            f"while `make {step.name}` runs."
        )
        return 1
    if as_json:
        print(json.dumps(timeline.as_dict(), indent=2))
    else:
        print_timeline(timeline, console)
    return 0
