"""`make stress N=500 C=20` (python -m workshop stress): load a running step, measure every hop.

1. Send N POST /api/process_data with C concurrent clients to the step's front door (step 2:
   Nginx; TARGET=gunicorn: straight to Gunicorn). wrk sends them when it is installed (a C
   program: about 0.05 ms of CPU per request, where a Python client takes 2 to 4 ms of the
   same cores as the server); otherwise an httpx client in this process, with a warning.
2. Wait for every accepted task in the result backend.
3. Feed the same N tasks to the same workers straight from this process: the baseline that
   shows what HTTP costs.
4. Print requests/s, latency percentiles, errors, unfinished tasks and the spread over workers.
Exit status 1 if any request failed or any accepted task never finished.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from celery.utils.imports import symbol_by_name
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from workshop import steps
from workshop.probe import queue_depth
from workshop.registry import Step, TaskApi
from workshop.waiting import wait_until

LUA_SCRIPT = Path(__file__).with_name("stress.lua")


@dataclass
class Sent:
    answered: float  # wall clock of the answer, comparable with the worker's finished_at
    latency: float = 0.0  # seconds (the httpx client only: wrk gives percentiles)
    status: int = 0
    task_id: str | None = None
    error: str = ""


@dataclass
class Report:
    sent: list[Sent]
    http_seconds: float
    began: float = 0.0  # wall clock of the first request
    results: dict[str, dict] = field(default_factory=dict)
    baseline_rate: float | None = None
    timeout: float = 60
    client: str = "httpx"
    latency_ms: tuple[float, float, float, float] | None = None  # from wrk
    socket_errors: Counter = field(default_factory=Counter)  # from wrk
    unanswered: int = 0  # requests wrk sent that got no answer before its time ran out

    def latencies(self) -> tuple[float, float, float, float]:
        if self.latency_ms:
            return self.latency_ms
        return percentiles([s.latency * 1000 for s in self.accepted])

    @property
    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if s.status == 202]

    @property
    def errors(self) -> Counter:
        errors = Counter(s.error or str(s.status) for s in self.sent if s.status != 202)
        errors.update(self.socket_errors)
        if self.unanswered:
            errors["no answer"] = self.unanswered
        return errors

    @property
    def lost(self) -> list[str]:  # accepted, but no result before the timeout
        return [s.task_id for s in self.accepted if s.task_id not in self.results]

    def task_rate(self) -> float:  # whole tasks per second, first request to last result
        finished = [r["finished_at"] for r in self.results.values()]
        if not finished:
            return 0.0
        return len(finished) / (max(finished) - self.began)


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    if len(values) < 2:
        value = values[0] if values else 0.0
        return value, value, value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], max(values)


async def send_all(
    api: TaskApi, base_url: str, n: int, concurrency: int, seconds: float, progress
) -> list[Sent]:
    sent: list[Sent] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(n):
        queue.put_nowait(number)
    task = progress.add_task(f"POST {api.submit}", total=n)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def one_client() -> None:
            while not queue.empty():
                number = queue.get_nowait()
                item = Sent(answered=0.0)
                began = time.perf_counter()
                try:
                    answer = await client.post(api.submit, json=api.body(seconds, number))
                    item.status = answer.status_code
                    if answer.status_code == 202:
                        item.task_id = answer.json()["task_id"]
                except httpx.HTTPError as error:
                    item.error = type(error).__name__
                item.latency = time.perf_counter() - began
                item.answered = time.time()
                sent.append(item)
                progress.advance(task)

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return sent


def send_with_wrk(
    api: TaskApi, base_url: str, n: int, concurrency: int, seconds: float
) -> tuple[list[Sent], tuple[float, float, float, float], Counter]:
    """The same N requests, sent by wrk (stress.lua): each answer, wrk's latency percentiles
    (ms) and its socket errors."""
    body = json.dumps(api.body(seconds, 0))
    with tempfile.TemporaryDirectory(prefix="stress-") as folder:
        out = Path(folder) / "answers.txt"
        # wrk runs for a time, not a count: the script says when N answers are in, and wrk
        # stops on SIGINT. The duration only bounds a run where some requests get no answer.
        bound = max(20, n // 20)
        command = ["wrk", "-t1", f"-c{min(concurrency, n)}", f"-d{bound}s", "--timeout", "30s"]
        command += ["-s", str(LUA_SCRIPT), base_url + api.submit, "--"]
        command += [api.submit, body, str(n), str(out)]
        wrk = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(
                lambda: wrk.poll() is not None or Path(f"{out}.done").exists(),
                bound + 5,
                interval=0.02,
                what="wrk's answers",
            )
            wrk.send_signal(signal.SIGINT)
            _, error = wrk.communicate(timeout=30)
        finally:
            if wrk.poll() is None:
                wrk.kill()
        if not out.exists():
            raise RuntimeError(f"wrk failed: {error.decode(errors='replace').strip()}")
        lines = out.read_text().splitlines()
    sent, latency, errors = [], (0.0, 0.0, 0.0, 0.0), Counter()
    for line in lines:
        first, *rest = line.split()
        if first == "latency_us":
            latency = tuple(int(value) / 1000 for value in rest)
        elif first == "socket_errors":
            for kind, count in zip(
                ("connect", "read", "write", "status", "timeout"), rest, strict=True
            ):
                if kind != "status" and int(count):  # a status error is a non-2xx answer
                    errors[f"socket {kind}"] = int(count)
        else:
            task_id = rest[0] if rest[0] != "-" else None
            sent.append(Sent(answered=float(rest[1]), status=int(first), task_id=task_id))
    return sent, latency, errors


def finished_results(backend, task_ids: list[str]) -> dict[str, dict]:
    """Results of the tasks among `task_ids` that succeeded."""
    if not hasattr(backend, "ResultSession"):  # any backend: one read per task
        metas = {task_id: backend.get_task_meta(task_id) for task_id in task_ids}
        return {i: meta["result"] for i, meta in metas.items() if meta["status"] == "SUCCESS"}
    # Celery's SQL backend: one query for all of them.
    session = backend.ResultSession()
    try:
        rows = session.query(backend.task_cls).filter(
            backend.task_cls.task_id.in_(task_ids), backend.task_cls.status == "SUCCESS"
        )
        return {row.task_id: backend._decode_stored_result(row.result) for row in rows}
    finally:
        session.close()


def wait_for_results(celery_app, task_ids: list[str], timeout: float, progress) -> dict[str, dict]:
    """Read each task's final result from the result backend (bounded by `timeout`)."""
    backend = celery_app.backend
    results: dict[str, dict] = {}
    pending = list(task_ids)
    task = progress.add_task("waiting for the tasks", total=len(task_ids))
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for start in range(0, len(pending), 500):
            found = finished_results(backend, pending[start : start + 500])
            results.update(found)
            progress.advance(task, len(found))
        pending = [task_id for task_id in pending if task_id not in results]
        if pending:
            time.sleep(0.25)  # a pause between two bounded polling rounds
    return results


def wait_through_api(
    base_url: str, api: TaskApi, task_ids: list[str], timeout: float, progress
) -> dict[str, dict]:
    """Ask the status URL of each task until it is done (`finished_at`: when it was seen done,
    within one polling round). A task that FAILED is done too: it is left out of the results
    (like a failed task in the result backend) and no longer asked about."""
    results: dict[str, dict] = {}
    failed: set[str] = set()
    task = progress.add_task("waiting for the tasks (status URL)", total=len(task_ids))
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while len(results) + len(failed) < len(task_ids) and time.monotonic() < deadline:
            for task_id in [i for i in task_ids if i not in results and i not in failed]:
                try:
                    body = client.get(api.status.format(task_id=task_id)).json()
                except (httpx.HTTPError, ValueError):
                    continue  # asked again in the next round, until the deadline
                if body.get("state") == "SUCCESS":
                    result = body.get("result")
                    result = result if isinstance(result, dict) else {"value": result}
                    results[task_id] = {"finished_at": time.time(), **result}
                    progress.advance(task)
                elif body.get("state") == "FAILURE":
                    failed.add(task_id)
                    progress.advance(task)
            if len(results) + len(failed) < len(task_ids):
                time.sleep(0.25)  # a pause between two bounded polling rounds
    return results


def baseline(celery_app, api: TaskApi, n: int, seconds: float, timeout: float, progress) -> float:
    """Tasks/s of the same workers fed straight from this process (send_task is apply_async by
    the task's name: this process need not import the step's tasks)."""
    started = time.time()
    task = progress.add_task("apply_async straight to the broker", total=n)
    ids = []
    for number in range(n):
        ids.append(celery_app.send_task(api.task, args=api.arguments(seconds, number)).id)
        progress.advance(task)
    results = wait_for_results(celery_app, ids, timeout, progress)
    finished = [r["finished_at"] for r in results.values()]
    return len(finished) / (max(finished) - started) if finished else 0.0


class DepthSampler:
    """The queue's depth every `every` seconds, from a thread of its own, while the load runs:
    how far the workers fall behind the web, and how fast they catch up."""

    def __init__(self, url: str, options: dict, queue: str, every: float = 0.5):
        self.url, self.options, self.queue, self.every = url, options, queue, every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from kombu import Connection

        began = time.monotonic()
        try:
            with Connection(self.url, transport_options=self.options, connect_timeout=2) as conn:
                channel = conn.default_channel
                while not self._stop.is_set():
                    try:
                        depth = channel.queue_declare(self.queue, passive=True).message_count
                    except Exception:  # the queue is not there (yet), or cannot be counted
                        return
                    self.samples.append((time.monotonic() - began, depth))
                    self._stop.wait(self.every)
        except Exception:  # no broker to ask: no figures, the load itself goes on
            return

    def __enter__(self) -> DepthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def line(self, points: int = 16) -> str | None:
        """`0 → 35 → 120 → 4 → 0 (the most: 130 at 2.1 s)`, at most `points` samples."""
        if not self.samples:
            return None
        step = max(1, len(self.samples) // points)
        shown = [depth for _, depth in self.samples[::step]]
        when, most = max(self.samples, key=lambda sample: sample[1])
        return f"{' → '.join(map(str, shown))} (the most: {most} at {when:.1f} s)"


def show(report: Report, target: str, concurrency: int, console: Console) -> None:
    after = [
        (report.results[s.task_id]["finished_at"] - s.answered) * 1000
        for s in report.accepted
        if s.task_id in report.results
    ]
    table = Table(
        title=f"{len(report.sent)} requests, {concurrency} concurrent, through {target} "
        f"(sent by {report.client})"
    )
    for column in ("measure", "value"):
        table.add_column(column)
    table.add_row("enqueue rate", f"{len(report.sent) / report.http_seconds:.0f} requests/s")
    p50, p95, p99, top = report.latencies()
    table.add_row(
        "enqueue latency", f"p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  max {top:.1f} ms"
    )
    p50, p95, p99, top = percentiles([max(0.0, ms) for ms in after])
    table.add_row(
        "after the 202, until SUCCESS",
        f"p50 {p50:.0f} ms  p95 {p95:.0f} ms  p99 {p99:.0f} ms  max {top:.0f} ms",
    )
    rate = report.task_rate()
    table.add_row("whole tasks", f"{rate:.1f} tasks/s" if rate < 10 else f"{rate:.0f} tasks/s")
    if report.baseline_rate:
        table.add_row(
            "baseline: apply_async, same workers",
            f"{report.baseline_rate:.0f} tasks/s (HTTP path: {rate / report.baseline_rate:.2f}x)",
        )
    errors = report.errors
    table.add_row("errors", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "0")
    table.add_row(
        f"unfinished tasks (accepted, not done after {report.timeout:g} s)", str(len(report.lost))
    )
    spread = Counter(r["worker"] for r in report.results.values() if "worker" in r)
    if spread:
        table.add_row("tasks per worker", ", ".join(f"{w}: {c}" for w, c in sorted(spread.items())))
    console.print(table)


def stress(
    step: Step,
    n: int,
    concurrency: int,
    target: str | None,
    seconds: float,
    with_baseline: bool,
    console: Console,
    timeout: float | None = None,
) -> tuple[int, Report]:
    api = step.task_api
    target = target or api.targets[0]
    if target not in api.targets:
        console.print(f"[red]✗ {step.name} serves its API through {', '.join(api.targets)}[/]")
        return 2, Report([], 1)
    celery_app = symbol_by_name(step.celery_app)  # the step's own app: its broker and backend
    base_url = f"http://127.0.0.1:{steps.ports(step)[target]}"
    try:
        health = httpx.get(f"{base_url}/health", timeout=2)
    except httpx.HTTPError as error:
        console.print(
            f"[red]✗ nothing answers at {base_url} ({error})[/]: start `make {step.name}`."
        )
        return 1, Report([], 1)
    if health.status_code != 200:
        hint = (
            f"{target} does not reach the app behind it: `make ps`"
            if (health.status_code == 502)
            else f"`make check-{step.name}` tells which hop is down"
        )
        console.print(f"[red]✗ {base_url}/health answered {health.status_code}[/]: {hint}.")
        return 1, Report([], 1)
    conf = celery_app.conf
    waiting = queue_depth(
        conf.broker_url, conf.broker_transport_options or {}, conf.task_default_queue
    )
    if waiting:
        console.print(
            f"[yellow]{waiting} messages already wait in the queue[/]: these tasks "
            "queue behind them, so the figures will be off. Let the workers drain "
            "the queue first."
        )
    if timeout is None:  # long enough for the queue ahead and the work itself
        timeout = 60 + n * seconds + waiting * 0.05
    options = conf.broker_transport_options or {}
    sampler = DepthSampler(conf.broker_url, options, conf.task_default_queue)
    with Progress(console=console, transient=False) as progress:
        with sampler:  # the HTTP load and its tasks, not the baseline
            began, wall = time.perf_counter(), time.time()
            if shutil.which("wrk"):
                sending = progress.add_task(f"POST {api.submit} (wrk)", total=None)
                sent, latency, socket_errors = send_with_wrk(api, base_url, n, concurrency, seconds)
                progress.update(sending, total=1, completed=1)
                report = Report(sent, time.perf_counter() - began, wall, timeout=timeout)
                report.client, report.latency_ms = "wrk", latency
                report.socket_errors, report.unanswered = socket_errors, n - len(sent)
            else:
                sent = asyncio.run(send_all(api, base_url, n, concurrency, seconds, progress))
                report = Report(sent, time.perf_counter() - began, wall, timeout=timeout)
            ids = [s.task_id for s in report.accepted]
            if api.done_by == "api":
                report.results = wait_through_api(base_url, api, ids, timeout, progress)
            else:
                report.results = wait_for_results(celery_app, ids, timeout, progress)
        if with_baseline and api.baseline:
            report.baseline_rate = baseline(celery_app, api, n, seconds, timeout, progress)
    show(report, target, concurrency, console)
    depth = sampler.line()
    if depth:
        console.print(
            f"Queue {conf.task_default_queue}, every {sampler.every:g} s: {depth}", highlight=False
        )
    failed = bool(report.errors) or bool(report.lost)
    if failed:
        console.print(
            f"[red]✗ {sum(report.errors.values())} failed requests, "
            f"{len(report.lost)} accepted tasks not finished after {report.timeout:g} s[/]"
        )
    return (1 if failed else 0), report
