"""`make stress N=500 C=20` (python -m workshop stress): load a running step, measure every hop.

1. wrk sends N POSTs of the step's task API with C connections to its front door (step 2:
   Nginx; TARGET=gunicorn: straight to Gunicorn). wrk is a C program: about 0.05 ms of CPU per
   request, where a Python client would take 2 to 4 ms of the same cores as the server.
2. Wait for every accepted task: in the result backend, or through its status URL.
3. Send the same N tasks to the same workers straight from this process: the baseline that
   shows what HTTP costs.
4. Print requests/s, latency percentiles, errors, unfinished tasks and the spread over workers.
Exit status 1 if any request failed or any accepted task never finished; 2 without wrk.
"""

from __future__ import annotations

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
from rich.console import Console
from rich.table import Table

from workshop.environment import StepEnvironment
from workshop.probe import celery_client, queue_depth, transport_options
from workshop.settings import PROGRAM_FIXES
from workshop.waiting import done_at, finished, follow, wait_until

LUA_SCRIPT = Path(__file__).with_name("stress.lua")
SOCKET_ERRORS = ("connect", "read", "write", "status", "timeout")


@dataclass
class Sent:
    """One request wrk sent: its status, the task id of a 202, when the answer came."""

    status: int
    task_id: str | None
    answered: float  # wall clock, comparable with a task's date_done


@dataclass
class WrkAnswers:
    sent: list[Sent]
    latency_ms: tuple[float, float, float, float]  # p50, p95, p99, max
    errors: Counter  # socket errors by kind


@dataclass
class LoadRun:
    """What one `make stress` measured."""

    answers: WrkAnswers
    wanted: int  # requests asked for
    seconds: float  # from the first request to the last answer
    began: float  # wall clock of the first request
    finished: dict[str, float] = field(default_factory=dict)  # task id -> when it was done
    workers: Counter = field(default_factory=Counter)  # tasks per worker
    baseline_rate: float | None = None
    timeout: float = 60

    @property
    def accepted(self) -> list[str]:
        return [s.task_id for s in self.answers.sent if s.status == 202 and s.task_id]

    @property
    def errors(self) -> Counter:
        errors = Counter(str(s.status) for s in self.answers.sent if s.status != 202)
        errors.update(self.answers.errors)
        if len(self.answers.sent) < self.wanted:
            errors["no answer"] = self.wanted - len(self.answers.sent)
        return errors

    @property
    def lost(self) -> list[str]:  # accepted, but not done before the timeout
        return [task_id for task_id in self.accepted if task_id not in self.finished]

    def task_rate(self) -> float:  # whole tasks per second, first request to last result
        if not self.finished:
            return 0.0
        return len(self.finished) / max(max(self.finished.values()) - self.began, 1e-6)


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99 and the largest."""
    if len(values) < 2:
        value = values[0] if values else 0.0
        return value, value, value, value
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], max(values)


def read_wrk_answers(text: str) -> WrkAnswers:
    """What stress.lua wrote: `<status> <task id or -> <wall clock>` a request, then wrk's
    latency percentiles (µs) and its socket errors."""
    sent, latency, errors = [], (0.0, 0.0, 0.0, 0.0), Counter()
    for line in text.splitlines():
        first, *rest = line.split()
        if first == "latency_us":
            latency = tuple(int(value) / 1000 for value in rest)
        elif first == "socket_errors":
            for kind, count in zip(SOCKET_ERRORS, rest, strict=True):
                if kind != "status" and int(count):  # a status error is a non-2xx answer
                    errors[f"socket {kind}"] = int(count)
        else:
            task_id = rest[0] if rest[0] != "-" else None
            sent.append(Sent(int(first), task_id, float(rest[1])))
    return WrkAnswers(sent, latency, errors)


def send_with_wrk(url: str, body: dict, n: int, concurrency: int) -> WrkAnswers:
    """Exactly N POSTs of `body` to `url`, C connections at a time (stress.lua counts them)."""
    with tempfile.TemporaryDirectory(prefix="stress-") as folder:
        out = Path(folder) / "answers.txt"
        # wrk runs for a time, not a count: the script says when N answers are in, and wrk
        # stops on SIGINT. The duration only bounds a run where some requests get no answer.
        bound = max(20, n // 20)
        path = "/" + url.split("/", 3)[3]
        command = ["wrk", "-t1", f"-c{min(concurrency, n)}", f"-d{bound}s", "--timeout", "30s"]
        command += ["-s", str(LUA_SCRIPT), url, "--", path, json.dumps(body), str(n), str(out)]
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
        return read_wrk_answers(out.read_text())


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
                    depth = channel.queue_declare(self.queue, passive=True).message_count
                    self.samples.append((time.monotonic() - began, depth))
                    self._stop.wait(self.every)
        except Exception:  # no broker, no queue (yet), a transport that cannot count: no figures
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


def wait_in_backend(env: StepEnvironment, run: LoadRun) -> None:
    """Each accepted task's end, read from the result backend (Celery's join)."""
    client = celery_client(env.variables)
    for task_id, result in finished(client, run.accepted, run.timeout).items():
        run.finished[task_id] = done_at(result)
        if isinstance(result.result, dict) and "worker" in result.result:
            run.workers[result.result["worker"]] += 1
    client.close()


def wait_through_api(base_url: str, env: StepEnvironment, run: LoadRun) -> None:
    """Each accepted task's end, seen by its status URL (within one polling round)."""
    status = env.step.task_api.status
    urls = {status.format(task_id=task_id): task_id for task_id in run.accepted}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        answers = follow(client, list(urls), run.timeout, interval=0.25, retry_errors=True)
    seen = time.time()
    for url, answer in answers.items():
        if answer.status_code == 200 and answer.json().get("state") == "SUCCESS":
            run.finished[urls[url]] = seen


def baseline(env: StepEnvironment, n: int, seconds: float, timeout: float) -> float:
    """Tasks/s of the same workers fed straight from this process: send_task is apply_async by
    the task's name, so this process need not import the step's tasks."""
    client = celery_client(env.variables)
    api, began = env.step.task_api, time.time()
    ids = [client.send_task(api.task, args=api.arguments(seconds)).id for _ in range(n)]
    done = [done_at(result) for result in finished(client, ids, timeout).values()]
    client.close()
    return len(done) / max(max(done) - began, 1e-6) if done else 0.0


def print_run(run: LoadRun, target: str, concurrency: int, console: Console) -> None:
    title = f"{len(run.answers.sent)} requests, {concurrency} concurrent, through {target}"
    table = Table(title=f"{title} (sent by wrk)")
    for column in ("measure", "value"):
        table.add_column(column)
    table.add_row("enqueue rate", f"{len(run.answers.sent) / run.seconds:.0f} requests/s")
    p50, p95, p99, top = run.answers.latency_ms
    table.add_row(
        "enqueue latency", f"p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  max {top:.1f} ms"
    )
    answered = {s.task_id: s.answered for s in run.answers.sent}
    after = [(done - answered[task_id]) * 1000 for task_id, done in run.finished.items()]
    p50, p95, p99, top = percentiles([max(0.0, ms) for ms in after])
    table.add_row(
        "after the 202, until SUCCESS",
        f"p50 {p50:.0f} ms  p95 {p95:.0f} ms  p99 {p99:.0f} ms  max {top:.0f} ms",
    )
    rate = run.task_rate()
    table.add_row("whole tasks", f"{rate:.1f} tasks/s" if rate < 10 else f"{rate:.0f} tasks/s")
    if run.baseline_rate:
        table.add_row(
            "baseline: apply_async, same workers",
            f"{run.baseline_rate:.0f} tasks/s (HTTP path: {rate / run.baseline_rate:.2f}x)",
        )
    table.add_row("errors", ", ".join(f"{k}: {v}" for k, v in run.errors.items()) or "0")
    table.add_row(
        f"unfinished tasks (accepted, not done after {run.timeout:g} s)", str(len(run.lost))
    )
    if run.workers:
        spread = ", ".join(f"{w}: {c}" for w, c in sorted(run.workers.items()))
        table.add_row("tasks per worker", spread)
    console.print(table)


def stress(
    env: StepEnvironment,
    n: int,
    concurrency: int,
    target: str | None,
    seconds: float,
    with_baseline: bool,
    console: Console,
    timeout: float | None = None,
) -> tuple[int, LoadRun | None]:
    step, api = env.step, env.step.task_api
    if shutil.which("wrk") is None:
        console.print(f"[red]✗ make stress sends its load with wrk[/]: {PROGRAM_FIXES['wrk']}.")
        return 2, None
    target = target or api.targets[0]
    if target not in api.targets:
        console.print(f"[red]✗ {step.name} serves its API through {', '.join(api.targets)}[/]")
        return 2, None
    base_url = f"http://127.0.0.1:{env.ports[target]}"
    try:
        health = httpx.get(f"{base_url}/health", timeout=2)
    except httpx.HTTPError as error:
        console.print(
            f"[red]✗ nothing answers at {base_url} ({error})[/]: start `make {step.name}`."
        )
        return 1, None
    if health.status_code != 200:
        hint = (
            f"{target} does not reach the app behind it: `make ps`"
            if (health.status_code == 502)
            else f"`make check-{step.name}` tells which hop is down"
        )
        console.print(f"[red]✗ {base_url}/health answered {health.status_code}[/]: {hint}.")
        return 1, None
    broker, options = env.variables["CELERY_BROKER_URL"], transport_options(env.variables)
    waiting = queue_depth(broker, options, env.queue)
    if waiting:
        console.print(
            f"[yellow]{waiting} messages already wait in the queue[/]: these tasks "
            "queue behind them, so the figures will be off. Let the workers drain "
            "the queue first."
        )
    if timeout is None:  # long enough for the queue ahead and the work itself
        timeout = 60 + n * seconds + waiting * 0.05
    sampler = DepthSampler(broker, options, env.queue)
    with console.status(f"POST {api.submit}: {n} requests by wrk, then the tasks' ends"), sampler:
        began, wall = time.perf_counter(), time.time()
        answers = send_with_wrk(base_url + api.submit, api.body(seconds), n, concurrency)
        run = LoadRun(answers, n, time.perf_counter() - began, wall, timeout=timeout)
        if api.done_by == "api":
            wait_through_api(base_url, env, run)
        else:
            wait_in_backend(env, run)
    if with_baseline and api.baseline:
        with console.status("the baseline: apply_async straight to the broker"):
            run.baseline_rate = baseline(env, n, seconds, timeout)
    print_run(run, target, concurrency, console)
    depth = sampler.line()
    if depth:
        console.print(f"Queue {env.queue}, every {sampler.every:g} s: {depth}", highlight=False)
    if run.errors or run.lost:
        console.print(
            f"[red]✗ {sum(run.errors.values())} failed requests, "
            f"{len(run.lost)} accepted tasks not finished after {run.timeout:g} s[/]"
        )
        return 1, run
    return 0, run
