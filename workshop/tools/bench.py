"""`make bench` (python -m workshop bench): what each hop of step 2 costs, side by side, in one
bounded run on this machine, against floors measured in the same run.

Each row is one path, driven until it is done, with the CPU time of every process in it:

- floors: kombu publishing and consuming the same message on the same RabbitMQ; a minimal
  Flask view calling `delay()` ("naive", a few lines written by the bench) under the same
  Gunicorn and Nginx, and its worker;
- Celery: `apply_async` from one process, then `apply_async` to SUCCESS with step 2's workers;
- HTTP: step 2's enqueue through Gunicorn alone and through Nginx, tracing on and off, and
  whole tasks from the HTTP request to SUCCESS;
- workers: step 2's workers with the result backend, concurrency, prefetch, acks and events
  changed one at a time.

It writes build/bench/bench.md (the table), bench.json and bench.png (the plot). The enqueue
rows run with no worker consuming, so that the web path does not share the cores with them.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from workshop import steps
from workshop.launcher import Refused, preflight, render_templates, run_before
from workshop.launcher.processes import VENV_BIN, env_with_venv, stop_tree
from workshop.probe import free_port, http_ok, ping_workers, port_in_use
from workshop.registry import TaskApi
from workshop.scratch import delete_queues
from workshop.settings import ROOT, Settings
from workshop.tools.stress import send_with_wrk, wait_for_results
from workshop.waiting import wait_until

STEP = "step02"
TASK = "step01_flask_celery.app.tasks.process_data"
NAIVE_TASK = "naive_app.process_data"
NAIVE_APP = '''"""The naive stack of `make bench`: a Flask view calling delay(), nothing else."""
import os

from celery import Celery
from flask import Flask, request

broker, results = os.environ["CELERY_BROKER_URL"], os.environ["NAIVE_RESULTS"]
celery = Celery("naive", broker=broker, backend=results)
celery.conf.task_default_queue = os.environ["CELERY_TASK_DEFAULT_QUEUE"]


@celery.task(name="naive_app.process_data")
def process_data(payload, seconds):
    return {"seconds": seconds, "finished_at": __import__("time").time()}


app = Flask(__name__)


@app.post("/api/process_data")
def submit():
    result = process_data.delay(request.get_json(), 0)
    return {"task_id": result.id}, 202
'''
# The variables of the step-2 worker that `bench` changes (read by workshop/tools/bench_worker.py).
WORKER_DEFAULTS = {"concurrency": 2, "prefetch": 1, "acks_late": True, "events": True}
# Shared servers, recognised by name; the bench's own processes are grouped by what started them.
SERVERS = {"beam.smp": "RabbitMQ", "redis-server": "Redis", "postgres": "PostgreSQL"}
OWN = {"nginx": "nginx", "gunicorn": "gunicorn", "naive": "gunicorn", "worker": "celery workers"}


@dataclass
class Row:
    group: str
    path: str
    rate: float  # items per second
    unit: str  # "requests/s", "tasks/s", "messages/s"
    count: int
    floor: str | None = None  # the path this one is compared with
    ratio: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per item, by process


class CpuMeter:
    """CPU seconds (user + system) of every process of each group, between start and stop: the
    servers (all of their processes: other users of them count too), and the processes this
    bench started, with their children."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def groups(self) -> dict[int, str]:
        me = psutil.Process()
        found = {me.pid: "bench (this process)"}
        for child in me.children(recursive=True):
            with suppress(psutil.Error):
                if child.name() == "wrk":
                    found[child.pid] = "wrk"
        for name, popen in self.stack.processes.items():
            group = next(g for prefix, g in OWN.items() if name.startswith(prefix))
            with suppress(psutil.Error):
                top = psutil.Process(popen.pid)
                for process in [top, *top.children(recursive=True)]:
                    found[process.pid] = group
        for process in psutil.process_iter(["name"]):
            if process.info["name"] in SERVERS:
                found[process.pid] = SERVERS[process.info["name"]]
        return found

    def sample(self) -> dict[tuple[str, int], float]:
        seen = {}
        for pid, group in self.groups().items():
            with suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                seen[(group, pid)] = times.user + times.system
        return seen

    @contextmanager
    def measure(self, into: dict[str, float]):
        before, waited = self.sample(), resource.getrusage(resource.RUSAGE_CHILDREN)
        yield
        after, done = self.sample(), resource.getrusage(resource.RUSAGE_CHILDREN)
        for (group, pid), seconds in after.items():
            into[group] = into.get(group, 0.0) + seconds - before.get((group, pid), 0.0)
        # wrk has ended by now: its time is in what this process's ended children used.
        into["wrk"] = done.ru_utime + done.ru_stime - waited.ru_utime - waited.ru_stime


def per_item(cpu: dict[str, float], count: int) -> dict[str, float]:
    return {g: round(1000 * s / count, 3) for g, s in cpu.items() if count and s > 0.0005}


class Stack:
    """The processes of one bench run, each started directly (no supervisord), on free ports."""

    def __init__(self, out: Path, console: Console):
        self.out, self.console = out, console
        self.run_dir = out / "run"
        self.queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.naive_queue = f"{self.queue}-naive"
        self.ports = {name: free_port() for name in ("nginx", "gunicorn", "naive", "nginx_naive")}
        self.processes: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    def prepare(self) -> None:
        step = steps.STEPS[STEP]
        os.environ.update(
            {
                "WORKSHOP_MODE": "services",
                "WORKSHOP_RUN_DIR": str(self.run_dir),
                "CELERY_TASK_DEFAULT_QUEUE": self.queue,
                "WORKER_PREFIX": "bench-",
                "NGINX_PORT": str(self.ports["nginx"]),
                "GUNICORN_PORT": str(self.ports["gunicorn"]),
                "FLOWER_PORT": str(free_port()),
            }
        )
        _, env = preflight(step)
        render_templates(step, step.run_dir(steps.settings(step)), env)
        (step.run_dir(steps.settings(step)) / "logs").mkdir(parents=True, exist_ok=True)
        if not run_before(step, env, self.console):
            raise Refused("the step's set-up commands failed")
        self.env = env_with_venv(env)
        self.logs = Path(env["STEP_LOG_DIR"])
        # The naive stack: its own Nginx config (the same file, another upstream) and app.
        (self.out / "naive_app.py").write_text(NAIVE_APP)
        naive_env = {
            **env,
            "NGINX_PORT": str(self.ports["nginx_naive"]),
            "GUNICORN_UPSTREAM": f"127.0.0.1:{self.ports['naive']}",
            "STEP_RUN_DIR": str(self.run_dir / "naive"),
        }
        render_templates(step, self.run_dir / "naive", naive_env)

    def start(self, name: str, command: list[str], env: dict | None = None, cwd: Path = ROOT):
        log = (self.logs / f"bench-{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            command,
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, *names: str) -> None:
        for name in names:
            process = self.processes.pop(name, None)
            if process is not None:
                stop_tree(process, signal.SIGTERM, timeout=20)

    def stop_all(self) -> None:
        self.stop(*list(self.processes))

    def nginx(self, which: str) -> None:
        folder = self.run_dir / ("naive" if which == "naive" else STEP) / "nginx"
        error_log = self.logs / f"bench-nginx-{which}-error.log"
        self.start(
            f"nginx-{which}",
            ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(error_log)]
            + ["-g", "daemon off;"],
        )
        port = self.ports["nginx" if which == "step02" else "nginx_naive"]
        wait_until(lambda: port_in_use(port), 20, what="nginx")

    def gunicorn(self, tracing: bool) -> None:
        self.stop("gunicorn")
        env = {"OTEL_SDK_DISABLED": "false" if tracing else "true"}
        self.start(
            "gunicorn",
            [str(VENV_BIN / "gunicorn"), "-c", "step02_nginx_gunicorn/gunicorn.conf.py"]
            + ["step02_nginx_gunicorn.wsgi:app"],
            env,
        )
        url = f"http://127.0.0.1:{self.ports['gunicorn']}/health"
        wait_until(lambda: http_ok(url), 30, what="gunicorn")

    def naive_web(self) -> None:
        self.start(
            "naive-web",
            [str(VENV_BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{self.ports['naive']}"]
            + ["naive_app:app"],
            self.naive_env(),
            cwd=self.out,
        )
        wait_until(lambda: port_in_use(self.ports["naive"]), 30, what="the naive web")

    def naive_env(self) -> dict[str, str]:
        return {
            "CELERY_TASK_DEFAULT_QUEUE": self.naive_queue,
            "NAIVE_RESULTS": "redis://127.0.0.1:6379/0",
            "PYTHONPATH": str(self.out),
        }

    def workers(self, name: str = "step02", **settings) -> list[str]:
        """Two Celery workers, as step 2 runs them, with `settings` changed; their names."""
        chosen = {**WORKER_DEFAULTS, **settings}
        names = []
        for number in (1, 2):
            worker = f"bench-{name}-{number}"
            app = "naive_app.celery" if name == "naive" else "workshop.tools.bench_worker"
            command = [str(VENV_BIN / "celery"), "-A", app, "worker", "--loglevel=WARNING"]
            command += [f"--hostname={worker}@%h", f"--concurrency={chosen['concurrency']}"]
            command += [f"--prefetch-multiplier={chosen['prefetch']}"]
            command += ["-E"] if chosen["events"] else ["--without-gossip", "--without-mingle"]
            env = {"BENCH_ACKS_LATE": "true" if chosen["acks_late"] else "false"}
            if name == "naive":
                env |= self.naive_env()
            env |= settings.get("env", {})
            self.start(f"worker-{number}", command, env, cwd=self.out if name == "naive" else ROOT)
            names.append(f"{worker}@{platform.node()}")
        broker = self.env["CELERY_BROKER_URL"]
        wait_until(
            lambda: set(names) <= set(ping_workers(broker, {}, 1, only=names)),
            60,
            what="the bench's workers",
        )
        return names

    def purge(self, *queues: str) -> None:
        from kombu import Connection

        with Connection(self.env["CELERY_BROKER_URL"]) as connection:
            channel = connection.default_channel
            for queue in queues:
                with suppress(Exception):
                    channel.queue_purge(queue)

    def delete_queues(self) -> None:
        queues = [self.queue, self.naive_queue, f"{self.queue}-kombu"]
        delete_queues(self.env["CELERY_BROKER_URL"], queues)


def celery_app(stack: Stack, naive: bool = False, backend: str | None = None):
    from celery import Celery

    settings = Settings()
    if backend:  # Celery reads CELERY_RESULT_BACKEND before its own argument
        os.environ["CELERY_RESULT_BACKEND"] = backend
    app = Celery(
        "bench",
        broker=stack.env["CELERY_BROKER_URL"],
        backend=backend or stack.env.get("CELERY_RESULT_BACKEND") or settings.celery_result_backend,
        set_as_current=False,
    )
    app.backend  # noqa: B018 (made now, while the variable says which)
    os.environ["CELERY_RESULT_BACKEND"] = stack.env["CELERY_RESULT_BACKEND"]
    app.conf.task_default_queue = stack.naive_queue if naive else stack.queue
    app.conf.result_extended = True
    return app


def kombu_floor(stack: Stack, count: int) -> list[Row]:
    """Publish `count` copies of one real Celery message with kombu, then consume them."""
    from kombu import Connection, Exchange, Queue

    app = celery_app(stack)
    message = app.amqp.as_task_v2(str(uuid.uuid4()), TASK, args=({"n": 0}, 0, False))
    queue = Queue(f"{stack.queue}-kombu", Exchange(""), routing_key=f"{stack.queue}-kombu")
    rows = []
    meter = CpuMeter(stack)
    with Connection(stack.env["CELERY_BROKER_URL"]) as connection:
        queue(connection.default_channel).declare()
        producer = connection.Producer(serializer="json")
        cpu: dict[str, float] = {}
        with meter.measure(cpu):
            began = time.perf_counter()
            for _ in range(count):
                producer.publish(
                    message.body,
                    routing_key=queue.name,
                    headers=message.headers,
                    **message.properties,
                    delivery_mode=2,
                )
            publish = time.perf_counter() - began
        rows.append(
            Row(
                "floors",
                "kombu publish",
                count / publish,
                "messages/s",
                count,
                cpu_ms=per_item(cpu, count),
            )
        )
        got = [0]

        def consumed(body, msg):
            msg.ack()
            got[0] += 1

        cpu = {}
        with meter.measure(cpu):
            began = time.perf_counter()
            with connection.Consumer(
                queue, callbacks=[consumed], prefetch_count=64, accept=["json"]
            ):
                while got[0] < count:
                    connection.drain_events(timeout=10)
            consume = time.perf_counter() - began
        rows.append(
            Row(
                "floors",
                "kombu consume (ack each)",
                count / consume,
                "messages/s",
                count,
                cpu_ms=per_item(cpu, count),
            )
        )
    return rows


def apply_async_rate(stack: Stack, count: int, naive: bool = False) -> Row:
    app = celery_app(stack, naive)
    name = NAIVE_TASK if naive else TASK
    args = ({"n": 0}, 0) if naive else ({"n": 0}, 0, False)
    cpu: dict[str, float] = {}
    with CpuMeter(stack).measure(cpu):
        began = time.perf_counter()
        for _ in range(count):
            app.send_task(name, args=args)
        seconds = time.perf_counter() - began
    stack.purge(app.conf.task_default_queue)
    return Row(
        "celery",
        "apply_async (one process, no worker)",
        count / seconds,
        "messages/s",
        count,
        floor="kombu publish",
        cpu_ms=per_item(cpu, count),
    )


def tasks_to_success(
    stack: Stack, count: int, path: str, group: str, naive=False, backend=None
) -> Row:
    """apply_async `count` tasks with the workers running; tasks/s from the first publish to
    the last result, and CPU per task."""
    app = celery_app(stack, naive, backend)
    name = NAIVE_TASK if naive else TASK
    args = ({"n": 0}, 0) if naive else ({"n": 0}, 0, False)
    cpu: dict[str, float] = {}
    with CpuMeter(stack).measure(cpu):
        began = time.time()
        ids = [app.send_task(name, args=args).id for _ in range(count)]
        results = wait_for_results(app, ids, 120, Quiet())
    finished = [r["finished_at"] for r in results.values()]
    if len(results) < count:
        raise RuntimeError(f"{path}: {count - len(results)} tasks did not finish in 120 s")
    return Row(
        group, path, count / (max(finished) - began), "tasks/s", count, cpu_ms=per_item(cpu, count)
    )


def http_enqueue(stack: Stack, port: int, path: str, group: str, seconds: float) -> Row:
    """wrk for `seconds` (after a one-second warm-up), no worker consuming."""
    url = f"http://127.0.0.1:{port}/api/process_data"
    script = ROOT / "workshop" / "tools" / "bench.lua"
    subprocess.run(
        ["wrk", "-t1", "-c20", "-d1s", "-s", str(script), url],
        capture_output=True,
        check=True,
        timeout=30,
    )
    cpu: dict[str, float] = {}
    with CpuMeter(stack).measure(cpu):
        done = subprocess.run(
            ["wrk", "-t1", "-c20", f"-d{seconds:g}s", "--latency", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["non_2xx"] or figures["errors"]:
        raise RuntimeError(
            f"{path}: {figures['non_2xx']} non-2xx answers, {figures['errors']} errors"
        )
    count = figures["requests"]
    return Row(
        group,
        path,
        count / figures["seconds"],
        "requests/s",
        count,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        cpu_ms=per_item(cpu, count),
    )


def http_whole(stack: Stack, count: int) -> Row:
    """Whole tasks through Nginx: `count` POSTs sent by wrk (as `make stress`), then every
    result, with the workers running."""
    app = celery_app(stack)
    cpu: dict[str, float] = {}
    with CpuMeter(stack).measure(cpu):
        began = time.time()
        sent, latency, errors = send_with_wrk(
            TaskApi(targets=("nginx",)), f"http://127.0.0.1:{stack.ports['nginx']}", count, 20, 0
        )
        ids = [s.task_id for s in sent if s.status == 202]
        results = wait_for_results(app, ids, 120, Quiet())
    if len(results) < count or errors:
        raise RuntimeError(f"whole tasks: {count - len(results)} not finished, errors {errors}")
    finished = [r["finished_at"] for r in results.values()]
    return Row(
        "http",
        "whole tasks: HTTP through Nginx to SUCCESS",
        count / (max(finished) - began),
        "tasks/s",
        count,
        p50_ms=latency[0],
        p99_ms=latency[2],
        cpu_ms=per_item(cpu, count),
    )


class Quiet:
    """A progress sink for the waits the bench borrows from `stress`."""

    def add_task(self, *args, **kwargs):
        return 0

    def advance(self, *args, **kwargs):
        pass


def ratio(rows: list[Row]) -> None:
    by_path = {row.path: row for row in rows}
    for row in rows:
        if row.floor and row.floor in by_path and by_path[row.floor].rate:
            row.ratio = row.rate / by_path[row.floor].rate


def machine() -> str:
    cpu = "unknown CPU"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{psutil.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python "
        f"{platform.python_version()}, {platform.platform(terse=True)}"
    )


def bench(console: Console, seconds: float = 5, tasks: int = 1000, out: Path | None = None) -> int:
    out = out or ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    stack = Stack(out, console)
    rows: list[Row] = []
    started = datetime.now(UTC)

    def step(text: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False)

    try:
        stack.prepare()
    except Refused as refusal:
        console.print(f"[red]✗ {refusal}[/]")
        return 1
    try:
        step("floors: kombu publish and consume")
        rows += kombu_floor(stack, tasks * 5)
        step("floor: the naive stack (Flask + delay() under the same Gunicorn and Nginx)")
        stack.naive_web()
        stack.nginx("naive")
        rows.append(
            http_enqueue(
                stack,
                stack.ports["nginx_naive"],
                "naive: HTTP enqueue through Nginx",
                "floors",
                seconds,
            )
        )
        rows.append(
            http_enqueue(
                stack,
                stack.ports["naive"],
                "naive: HTTP enqueue, Gunicorn alone",
                "floors",
                seconds,
            )
        )
        stack.purge(stack.naive_queue)
        stack.stop("naive-web", "nginx-naive")
        stack.workers("naive")
        rows.append(
            tasks_to_success(
                stack, tasks, "naive worker: apply_async to SUCCESS", "floors", naive=True
            )
        )
        stack.stop("worker-1", "worker-2")

        step("Celery apply_async")
        rows.append(apply_async_rate(stack, tasks * 2))

        step("step 2's HTTP enqueue (no worker consuming)")
        stack.nginx("step02")
        for tracing in (True, False):
            stack.gunicorn(tracing)
            label = "tracing on" if tracing else "tracing off"
            row = http_enqueue(
                stack,
                stack.ports["gunicorn"],
                f"HTTP enqueue, Gunicorn alone, {label}",
                "http",
                seconds,
            )
            row.floor = "naive: HTTP enqueue, Gunicorn alone"
            rows.append(row)
            stack.purge(stack.queue)
            row = http_enqueue(
                stack, stack.ports["nginx"], f"HTTP enqueue through Nginx, {label}", "http", seconds
            )
            row.floor = "naive: HTTP enqueue through Nginx"
            rows.append(row)
            stack.purge(stack.queue)

        step("whole tasks: step 2's workers, apply_async and HTTP (tracing on)")
        stack.gunicorn(True)
        stack.workers()
        base = tasks_to_success(stack, tasks, "apply_async to SUCCESS, step 2's workers", "celery")
        base.floor = "naive worker: apply_async to SUCCESS"
        rows.append(base)
        whole = http_whole(stack, tasks)
        whole.floor = base.path
        rows.append(whole)
        stack.stop("worker-1", "worker-2")
        stack.stop("gunicorn", "nginx-step02")

        step("worker settings, one at a time (apply_async to SUCCESS)")
        database = stack.env["DATABASE_URL"].replace("postgresql://", "db+postgresql+psycopg://", 1)
        celery_app(stack, backend=database).backend.ResultSession().close()  # its tables
        variants = [
            (
                "results in PostgreSQL (Celery's SQL backend)",
                {"env": {"CELERY_RESULT_BACKEND": database}},
                database,
            ),
            ("concurrency 1", {"concurrency": 1}, None),
            ("concurrency 4", {"concurrency": 4}, None),
            ("prefetch 4", {"prefetch": 4}, None),
            ("prefetch 64", {"prefetch": 64}, None),
            ("acks early", {"acks_late": False}, None),
            ("events off", {"events": False}, None),
            ("tracing off", {"env": {"OTEL_SDK_DISABLED": "true"}}, None),
        ]
        for label, settings, backend in variants:
            step(f"  {label}")
            stack.workers(**settings)
            row = tasks_to_success(stack, tasks, f"workers: {label}", "workers", backend=backend)
            row.floor = "apply_async to SUCCESS, step 2's workers"
            rows.append(row)
            stack.stop("worker-1", "worker-2")
    finally:
        stack.stop_all()
        stack.delete_queues()
    ratio(rows)
    report = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "seconds": seconds,
        "tasks": tasks,
        "rows": [asdict(row) for row in rows],
    }
    (out / "bench.json").write_text(json.dumps(report, indent=2))
    (out / "bench.md").write_text(markdown(report))
    plot(report, out / "bench.png")
    show(report, console)
    console.print(f"Written: {out / 'bench.md'}, {out / 'bench.json'}, {out / 'bench.png'}")
    return 0


CPU_COLUMNS = [
    "nginx",
    "gunicorn",
    "celery workers",
    "RabbitMQ",
    "Redis",
    "PostgreSQL",
    "wrk",
    "bench (this process)",
]


def markdown(report: dict) -> str:
    lines = [
        f"# make bench, {report['date']}",
        "",
        f"Machine: {report['machine']}. HTTP rows: wrk, 20 connections, {report['seconds']:g} s "
        f"each, no worker consuming; task rows: {report['tasks']} tasks.",
        "",
        "| path | rate | vs floor | p50 / p99 | CPU ms per item: " + ", ".join(CPU_COLUMNS) + " |",
        "|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        ratio = f"{row['ratio']:.2f}x {row['floor']}" if row["ratio"] else ""
        latency = f"{row['p50_ms']:.1f} / {row['p99_ms']:.1f} ms" if row["p50_ms"] else ""
        cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in row["cpu_ms"].items())
        lines.append(
            f"| {row['path']} | {row['rate']:.0f} {row['unit']} | {ratio} | {latency} | {cpu} |"
        )
    return "\n".join(lines) + "\n"


def show(report: dict, console: Console) -> None:
    table = Table(title=f"make bench, {report['date']}")
    for column in ("path", "rate", "vs floor", "p50 / p99", "CPU ms per item"):
        table.add_column(column)
    for row in report["rows"]:
        table.add_row(
            row["path"],
            f"{row['rate']:.0f} {row['unit']}",
            f"{row['ratio']:.2f}x" if row["ratio"] else "",
            f"{row['p50_ms']:.1f} / {row['p99_ms']:.1f} ms" if row["p50_ms"] else "",
            ", ".join(f"{n} {ms:.2f}" for n, ms in row["cpu_ms"].items()),
        )
    console.print(table)
    console.print(report["machine"], highlight=False)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 0.42 * len(rows) + 1.5), sharey=True)
    names = [row["path"] for row in rows][::-1]
    left.barh(names, [row["rate"] for row in rows][::-1], color="#4878a8")
    left.set_xlabel("items per second (requests, tasks or messages)")
    left.set_xscale("log")
    bottom = [0.0] * len(rows)
    for number, group in enumerate(CPU_COLUMNS):
        values = [row["cpu_ms"].get(group, 0.0) for row in rows][::-1]
        right.barh(names, values, left=bottom, label=group, color=plt.cm.tab10(number))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    right.set_xlabel("CPU ms per item, by process")
    right.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"make bench, {report['date']}: {report['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(bench(Console()))
