"""`make bench` (python -m workshop bench): what each hop of step 2 costs, against a naive stack
measured in the same run, in interleaved rounds (`make bench QUICK=1`: one short round;
`make bench VARIANTS=1` adds step 2's workers with one setting changed at a time).

- The naive stack: a Flask view calling delay() (a few lines the bench writes) under the same
  Gunicorn and Nginx configuration, and plain workers.
- Step 2 twice, as `make step02` starts it (IsolatedStep): tracing off, and tracing on.

A round measures every row once, in turn, so that a slow moment of the machine falls on all
rows alike; the first round is a warm-up, dropped. A row is the median of its rounds with their
spread (min to max); its ratio to its floor is taken within each round, then the median. The
naive row measured twice in a round is the machine's own noise. HTTP rows run with no worker
consuming. Written: build/bench/bench.md, bench.json and bench.png; the run before is kept as
bench-previous.json, and every ratio is put next to its figure of that run.
"""

from __future__ import annotations

import json
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table as RichTable

from workshop.environment import VENV_BIN, env_with_venv
from workshop.launcher import create_result_tables, render_templates
from workshop.launcher.isolated import IsolatedStep
from workshop.launcher.processes import stop_tree
from workshop.probe import celery_client, free_port, ping_workers, port_in_use
from workshop.scratch import delete_queues, fresh_database
from workshop.settings import ROOT, Settings
from workshop.tools.stress import send_with_wrk
from workshop.waiting import done_at, finished, wait_until

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
    return {"seconds": seconds}


app = Flask(__name__)


@app.post("/api/process_data")
def submit():
    return {"task_id": process_data.delay(request.get_json(), 0).id}, 202
'''
UNSTABLE = 0.25  # a spread (max - min) over this share of the median marks a row unstable
AGREE = 0.15  # two runs agree on a ratio when they differ by at most this share of it
# The process groups whose CPU is counted, by what their command line says.
SERVERS = {"beam.smp": "RabbitMQ", "redis-server": "Redis", "postgres": "PostgreSQL"}
# "tools": the stacks' supervisord, Flower and launchers.
CPU_COLUMNS = [
    "nginx",
    "gunicorn",
    "workers",
    "RabbitMQ",
    "Redis",
    "PostgreSQL",
    "wrk",
    "bench",
    "tools",
]
# Beyond the columns: what the rest of the machine used meanwhile, and what the hypervisor took.
BUSY = 0.10  # others using over this share of the machine during a run make its figures suspect


@dataclass
class Row:
    """One path, measured once per round."""

    group: str  # "http", "tasks", "workers", "noise"
    path: str
    unit: str  # "requests/s", "tasks/s"
    floor: str | None = None  # the row it is compared with, in the same round
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # per item, per round

    def add(self, rate: float, cpu: dict[str, float], latency: tuple[float, float] | None = None):
        self.rates.append(rate)
        for group, ms in cpu.items():
            self.cpu_ms.setdefault(group, []).append(ms)
        if latency:
            self.p50_ms.append(latency[0])
            self.p99_ms.append(latency[1])

    @property
    def unstable(self) -> bool:
        rate = statistics.median(self.rates)
        return rate > 0 and (max(self.rates) - min(self.rates)) / rate > UNSTABLE


def median_and_spread(values: list[float], digits: str = ".0f") -> str:
    """`812 (790–830)`: the median, then the smallest and the largest."""
    if not values:
        return ""
    middle = format(statistics.median(values), digits)
    if len(values) == 1:
        return middle
    return f"{middle} ({min(values):{digits}}–{max(values):{digits}})"


@dataclass
class Table:
    """The bench's one table, printed in the terminal and written as Markdown."""

    title: str
    columns: list[str]
    rows: list[list[str]]

    def rich(self) -> RichTable:
        table = RichTable(title=self.title)
        for column in self.columns:
            table.add_column(column)
        for row in self.rows:
            table.add_row(*row)
        return table

    def markdown(self) -> str:
        lines = [f"| {' | '.join(self.columns)} |", "|" + "---|" * len(self.columns)]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return "\n".join(lines)


def median_ratios(report: dict) -> dict[str, float]:
    """Each row's median ratio to its floor, by path."""
    return {
        row["path"]: statistics.median(row["ratios"]) for row in report["rows"] if row["ratios"]
    }


def changes(report: dict, previous: dict | None) -> dict[str, float]:
    """How much each median ratio moved since the previous run: +0.04 is 4% higher now."""
    if not previous or previous.get("plan") != report.get("plan"):
        return {}  # no run before, or one that measured otherwise (QUICK=1, VARIANTS=1)
    before = median_ratios(previous)
    return {
        path: now / before[path] - 1
        for path, now in median_ratios(report).items()
        if before.get(path)
    }


def table(report: dict, previous: dict | None = None) -> Table:
    columns = ["path", "rate, median (min–max)", "vs its floor", "p50 / p99 ms", "CPU ms per item"]
    moved = changes(report, previous)
    if moved:
        columns.insert(3, "ratio vs the run before")
    rows = []
    for row in report["rows"]:
        row = Row(**row)
        ratio = median_and_spread(row.ratios, ".2f") + "x" if row.ratios else ""
        latency = ""
        if row.p50_ms:
            latency = f"{statistics.median(row.p50_ms):.1f} / {statistics.median(row.p99_ms):.1f}"
        cpu = ", ".join(
            f"{name} {statistics.median(row.cpu_ms[name]):.2f}"
            for name in [*CPU_COLUMNS, "others"]
            if name in row.cpu_ms
        )
        rate = f"{median_and_spread(row.rates)} {row.unit}" + (" unstable" if row.unstable else "")
        cells = [row.path, rate, f"{ratio} {row.floor or ''}".strip(), latency, cpu]
        if moved:
            change = moved.get(row.path)
            cells.insert(3, "" if change is None else f"{change:+.0%}")
        rows.append(cells)
    return Table(f"make bench, {report['date']}", columns, rows)


def agreement(report: dict, previous: dict | None) -> str:
    """One sentence: do this run's ratios agree with the run before's?"""
    moved = changes(report, previous)
    if not moved:
        return ""
    far = [path for path, change in moved.items() if abs(change) > AGREE]
    said = f"Against the run before ({previous['date']}): "
    if not far:
        return said + f"all {len(moved)} ratios within {AGREE:.0%}."
    return (
        said
        + f"{len(far)} of {len(moved)} ratios moved more than {AGREE:.0%}: "
        + "; ".join(f"{path} {moved[path]:+.0%}" for path in far)
    )


def ratio(rows: list[Row]) -> None:
    """Each row's rate over its floor's, round by round."""
    by_path = {row.path: row for row in rows}
    for row in rows:
        if row.floor in by_path:
            floor = by_path[row.floor].rates
            row.ratios = [mine / theirs for mine, theirs in zip(row.rates, floor, strict=False)]


class CpuMeter:
    """CPU seconds (user + system) of each group of processes between start and stop: the
    servers (all of their processes: other users of them count too), and the bench's own."""

    @staticmethod
    def group(process: psutil.Process) -> str | None:
        """Which group a process counts in: a server by its name, the others by their program
        (a Celery pool process has its worker's command line)."""
        if process.name() in SERVERS:
            return SERVERS[process.name()]
        argv = process.cmdline()
        programs = {Path(arg).name for arg in argv[:2]}
        if argv and argv[0].startswith("nginx"):  # "nginx: worker process"
            return "nginx"
        if "gunicorn" in programs:
            return "gunicorn"
        if "celery" in programs and "worker" in argv:
            return "workers"
        return None

    def sample(self) -> dict[tuple[str, int], float]:
        seen, me = {}, psutil.Process()
        mine = me.children(recursive=True)
        found = [
            me,
            *mine,
            *(p for p in psutil.process_iter(["name"]) if p.info["name"] in SERVERS),
        ]
        for process in found:
            with suppress(psutil.Error):
                group = "bench" if process.pid == me.pid else self.group(process)
                if group is None and process in mine:
                    group = "tools"  # one of the bench's own: supervisord, Flower, a launcher
                if group:
                    times = process.cpu_times()
                    seen[(group, process.pid)] = times.user + times.system
        return seen

    @staticmethod
    def machine() -> tuple[float, float, float]:
        """CPU seconds the whole machine was busy, stolen by the hypervisor, and the wall clock."""
        times = psutil.cpu_times()
        busy = times.user + times.nice + times.system + times.irq + times.softirq
        return busy, getattr(times, "steal", 0.0), time.monotonic()

    @contextmanager
    def measure(self, into: dict[str, float]):
        before, waited = self.sample(), resource.getrusage(resource.RUSAGE_CHILDREN)
        machine = self.machine()
        yield
        after, done = self.sample(), resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, stolen, clock = (
            end - start for end, start in zip(self.machine(), machine, strict=True)
        )
        for (group, pid), seconds in after.items():
            into[group] = into.get(group, 0.0) + seconds - before.get((group, pid), 0.0)
        # wrk has ended by now: its time is in what this process's ended children used.
        into["wrk"] = done.ru_utime + done.ru_stime - waited.ru_utime - waited.ru_stime
        # Other processes (another program, a test run) take cores from the rows: say how much.
        into["others"] = max(0.0, busy - sum(into.values()))
        into["others_share"] = into["others"] / (clock * psutil.cpu_count())
        into["steal_share"] = stolen / (clock * psutil.cpu_count())


def per_item(cpu: dict[str, float], count: int) -> dict[str, float]:
    """CPU ms per item of each group; the shares of the machine stay shares."""
    shares = {g: round(s, 3) for g, s in cpu.items() if g.endswith("_share")}
    return {
        **{g: round(1000 * s / count, 3) for g, s in cpu.items() if count and s > 0.0005},
        **shares,
    }


def busy_machine(report: dict) -> str:
    """A sentence on the rest of the machine during the run: what others used, what was stolen."""
    others = [s for row in report["rows"] for s in row["cpu_ms"].get("others_share", [])]
    stolen = [s for row in report["rows"] for s in row["cpu_ms"].get("steal_share", [])]
    if not others:
        return ""
    said = (
        f"Meanwhile other processes used {statistics.median(others):.0%} of the machine "
        f"(median of the rows, up to {max(others):.0%}); the hypervisor took "
        f"{statistics.median(stolen or [0.0]):.0%}."
    )
    if statistics.median(others) > BUSY:
        said += " The machine was busy: these figures measure it, not the stacks."
    return said


class Bench:
    """The naive stack and step 2 (tracing off and on), on free ports, each with its queues."""

    def __init__(self, out: Path, database: str, console: Console):
        self.out, self.console = out, console
        run_dir = out / "run"
        common = {"DATABASE_URL": database, "COLUMNS": "200"}
        self.off = IsolatedStep(
            "step02", run_dir / "off", prefix="bench", OTEL_SDK_DISABLED="true", **common
        )
        self.on = IsolatedStep(
            "step02", run_dir / "on", prefix="bench", OTEL_SDK_DISABLED="false", **common
        )
        self.naive_queue = f"bench-{uuid.uuid4().hex[:8]}-naive"
        self.ports = {"naive": free_port(), "naive_nginx": free_port()}
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = run_dir / "logs"
        self.naive_workers: list[str] = []

    def start(self) -> None:
        for stack in (self.off, self.on):
            stack.start()
        variables = self.off.environment().variables
        self.env = env_with_venv(variables)
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.out / "naive_app.py").write_text(NAIVE_APP)
        naive = {
            **self.env,
            "CELERY_TASK_DEFAULT_QUEUE": self.naive_queue,
            "NAIVE_RESULTS": variables["CELERY_RESULT_BACKEND"],
            "PYTHONPATH": str(self.out),
        }
        self.start_process(
            "naive-web",
            [str(VENV_BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{self.ports['naive']}"]
            + ["naive_app:app"],
            naive,
        )
        # The naive stack's Nginx: step 2's own configuration, another upstream.
        folder = self.out / "run" / "naive"
        render_templates(
            self.off.step,
            folder,
            {
                **self.env,
                "NGINX_PORT": str(self.ports["naive_nginx"]),
                "GUNICORN_UPSTREAM": f"127.0.0.1:{self.ports['naive']}",
                "STEP_RUN_DIR": str(folder),
                "STEP_LOG_DIR": str(self.logs),
                "NGINX_ACCESS_LOG": str(self.logs / "naive-access.log"),
            },
        )
        nginx = ["nginx", "-p", str(folder / "nginx"), "-c", str(folder / "nginx" / "nginx.conf")]
        self.start_process("naive-nginx", [*nginx, "-g", "daemon off;"], self.env)
        self.naive_workers = self.start_workers("naive", "naive_app.celery", naive)
        for port in self.ports.values():
            wait_until(lambda port=port: port_in_use(port), 30, what="the naive stack")

    def start_process(self, name: str, argv: list[str], env: dict, cwd: Path | None = None):
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=cwd or self.out,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_workers(self, name: str, app: str, env: dict, *options: str) -> list[str]:
        """Two Celery workers as step 2 runs them (concurrency 2, prefetch 1, events), with
        `options` added; their names, once both answer ping."""
        names = []
        for number in (1, 2):
            worker = f"bench-{name}-{number}-{uuid.uuid4().hex[:4]}"
            argv = [str(VENV_BIN / "celery"), "-A", app, "worker", "--loglevel=WARNING"]
            argv += [f"--hostname={worker}@%h", "--concurrency=2", "--prefetch-multiplier=1"]
            argv += [*(options or ("-E",))]
            cwd = self.out if name == "naive" else ROOT
            self.start_process(f"{name}-{number}", argv, env, cwd)
            names.append(f"{worker}@{platform.node()}")
        broker = self.env["CELERY_BROKER_URL"]
        wait_until(
            lambda: set(names) <= set(ping_workers(broker, {}, 1, only=names)),
            60,
            what=f"the bench's {name} workers",
        )
        return names

    def stop_process(self, *names: str) -> None:
        for name in names:
            process = self.processes.pop(name, None)
            if process is not None:
                stop_tree(process, signal.SIGTERM, timeout=20)

    @contextmanager
    def consuming(self, on: bool):
        """Every worker of the bench takes messages (task rows), or none does (HTTP rows)."""
        app = celery_client(self.env)
        pairs = [(self.off.queue, self.off.worker_names()), (self.on.queue, self.on.worker_names())]
        pairs.append((self.naive_queue, self.naive_workers))
        control = app.control.add_consumer if on else app.control.cancel_consumer
        for queue, workers in pairs:
            control(queue, destination=workers, reply=True, timeout=5)
        try:
            yield
        finally:
            app.close()

    def purge(self) -> None:
        from kombu import Connection

        with Connection(self.env["CELERY_BROKER_URL"]) as connection:
            for queue in (self.off.queue, self.on.queue, self.naive_queue):
                with suppress(Exception):
                    connection.default_channel.queue_purge(queue)

    def stop(self) -> None:
        self.stop_process(*list(self.processes))
        for stack in (self.off, self.on):
            if stack.launcher.popen is not None:
                stack.stop()
        delete_queues(self.off.broker, [self.naive_queue, f"{self.off.queue}-v"])


def http_enqueue(url: str, seconds: float) -> tuple[float, dict[str, float], tuple, int]:
    """wrk for `seconds` after a one-second warm-up: requests/s, CPU per request, p50/p99."""
    script = Path(__file__).with_name("bench.lua")
    argv = ["wrk", "-t1", "-c20", "-s", str(script), url]
    subprocess.run([*argv, "-d1s"], capture_output=True, check=True, timeout=30)
    cpu: dict[str, float] = {}
    with CpuMeter().measure(cpu):
        done = subprocess.run(
            [*argv, f"-d{seconds:g}s", "--latency"],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["non_2xx"] or figures["errors"]:
        raise RuntimeError(f"{url}: {figures['non_2xx']} non-2xx, {figures['errors']} errors")
    count = figures["requests"]
    latency = (figures["p50_us"] / 1000, figures["p99_us"] / 1000)
    return count / figures["seconds"], per_item(cpu, count), latency, count


def tasks_to_success(app, name: str, args: tuple, count: int, queue: str) -> tuple[float, dict]:
    """apply_async `count` tasks, the workers running: tasks/s from the first publish to the
    last result, and CPU per task."""
    cpu: dict[str, float] = {}
    with CpuMeter().measure(cpu):
        began = time.time()
        ids = [app.send_task(name, args=args, queue=queue).id for _ in range(count)]
        results = finished(app, ids, 120)
    if len(results) < count:
        raise RuntimeError(f"{name}: {count - len(results)} tasks not finished in 120 s")
    return count / (max(map(done_at, results.values())) - began), per_item(cpu, count)


def http_whole(app, url: str, count: int) -> tuple[float, dict]:
    """Whole tasks: `count` POSTs through Nginx sent by wrk (as `make stress`), then every
    result, the workers running."""
    cpu: dict[str, float] = {}
    with CpuMeter().measure(cpu):
        began = time.time()
        answers = send_with_wrk(url, {"seconds": 0}, count, 20)
        ids = [sent.task_id for sent in answers.sent if sent.status == 202]
        results = finished(app, ids, 120)
    if len(results) < count:
        raise RuntimeError(f"whole tasks: {count - len(results)} not finished in 120 s")
    return count / (max(map(done_at, results.values())) - began), per_item(cpu, count)


NAIVE, NAIVE_ALONE = "naive: HTTP enqueue through Nginx", "naive: HTTP enqueue, Gunicorn alone"
NAIVE_TASKS, TASKS = (
    "naive workers: apply_async to SUCCESS",
    "step 2's workers: apply_async to SUCCESS",
)
# (group, path, the row it is compared with): a round measures them in this order.
ROWS = [
    ("http", NAIVE, None),
    ("http", "step 2 through Nginx, tracing off", NAIVE),
    ("http", "step 2 through Nginx, tracing on", NAIVE),
    ("http", NAIVE_ALONE, None),
    ("http", "step 2, Gunicorn alone, tracing off", NAIVE_ALONE),
    ("http", "step 2, Gunicorn alone, tracing on", NAIVE_ALONE),
    ("noise", "noise: the naive row again", NAIVE),
    ("tasks", NAIVE_TASKS, None),
    ("tasks", TASKS, NAIVE_TASKS),
    ("tasks", "whole tasks: HTTP through Nginx to SUCCESS", TASKS),
]


def new_rows() -> dict[str, Row]:
    unit = {"tasks": "tasks/s"}
    return {path: Row(g, path, unit.get(g, "requests/s"), floor) for g, path, floor in ROWS}


def one_round(bench: Bench, rows: dict[str, Row], seconds: float, tasks: int) -> None:
    """Every row of the http, noise and tasks groups once, in turn."""
    off, on = bench.off, bench.on
    urls = [
        f"http://127.0.0.1:{bench.ports['naive_nginx']}",
        off.url("nginx"),
        on.url("nginx"),
        f"http://127.0.0.1:{bench.ports['naive']}",
        off.url("gunicorn"),
        on.url("gunicorn"),
        f"http://127.0.0.1:{bench.ports['naive_nginx']}",
    ]
    with bench.consuming(False):
        for (_, path, _), url in zip(ROWS, urls, strict=False):
            rate, cpu, latency, _ = http_enqueue(f"{url}/api/process_data", seconds)
            rows[path].add(rate, cpu, latency)
            bench.purge()
    app = celery_client(bench.env)
    with bench.consuming(True):
        rate, cpu = tasks_to_success(app, NAIVE_TASK, ({}, 0), tasks, bench.naive_queue)
        rows[NAIVE_TASKS].add(rate, cpu)
        rate, cpu = tasks_to_success(app, TASK, ({}, 0, False), tasks, off.queue)
        rows[TASKS].add(rate, cpu)
        rate, cpu = http_whole(app, f"{off.url('nginx')}/api/process_data", tasks)
        rows["whole tasks: HTTP through Nginx to SUCCESS"].add(rate, cpu)
    app.close()


# Step 2's workers with one thing changed: (label, worker options, environment).
VARIANTS = [
    ("results in PostgreSQL (Celery's SQL backend)", (), {"CELERY_RESULT_BACKEND": "sql"}),
    ("concurrency 1", ("--concurrency=1", "-E"), {}),
    ("concurrency 4", ("--concurrency=4", "-E"), {}),
    ("prefetch 4", ("--prefetch-multiplier=4", "-E"), {}),
    ("acks early", (), {"FLASK_CELERY__task_acks_late": "false"}),
    ("events off", ("--without-gossip", "--without-mingle"), {}),
    ("tracing on", (), {"OTEL_SDK_DISABLED": "false"}),
]


def worker_variants(bench: Bench, rows: list[Row], tasks: int, rounds: int) -> None:
    """Each variant against step 2's own workers (tracing off), alternately, `rounds` times."""
    queue = f"{bench.off.queue}-v"
    sql = bench.env["DATABASE_URL"].replace("postgresql://", "db+postgresql+psycopg://", 1)
    create_result_tables(sql)
    base = Row("workers", "step 2's workers, base of the variants", "tasks/s")
    rows.append(base)
    with bench.consuming(True):
        for label, options, extra in VARIANTS:
            bench.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/]   workers: {label}")
            extra = {k: sql if v == "sql" else v for k, v in extra.items()}
            env = {**bench.env, "CELERY_TASK_DEFAULT_QUEUE": queue, **extra}
            options = options or ("-E",)
            bench.start_workers("variant", "step02_nginx_gunicorn.worker", env, *options)
            row = Row("workers", f"workers: {label}", "tasks/s", base.path)
            variant = celery_client({**bench.env, **extra, "CELERY_TASK_DEFAULT_QUEUE": queue})
            base_app = celery_client(bench.env)
            for _ in range(rounds):
                row.add(*tasks_to_success(variant, TASK, ({}, 0, False), tasks, queue))
                ran = tasks_to_success(base_app, TASK, ({}, 0, False), tasks, bench.off.queue)
                base.add(*ran)
                row.ratios.append(row.rates[-1] / base.rates[-1])
            variant.close()
            base_app.close()
            bench.stop_process("variant-1", "variant-2")
            rows.append(row)


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


@dataclass(frozen=True)
class Plan:
    """How much a run measures: rounds after the warm-up, seconds per HTTP row, tasks per task
    row, and whether the worker variants follow."""

    rounds: int = 5
    seconds: float = 2.0
    tasks: int = 300
    warm_up: bool = True
    variants: bool = False


QUICK = Plan(rounds=1, seconds=1.0, tasks=200)


def bench(console: Console, plan: Plan = Plan(), out: Path | None = None) -> int:
    out = out or ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    rounds, seconds, tasks = plan.rounds, plan.seconds, plan.tasks
    started, clock = datetime.now(UTC), time.monotonic()

    def say(text: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}", highlight=False)

    rows = new_rows()
    settings = Settings()
    with ExitStack() as cleanup, fresh_database(settings.database_url, "workshop_bench") as url:
        bench = Bench(out, url, console)
        cleanup.callback(bench.stop)
        say("starting the naive stack, and step 2 twice (tracing off, tracing on)")
        bench.start()
        if plan.warm_up:
            say("warm-up round (not counted)")
            one_round(bench, new_rows(), 1.0, 100)
        for number in range(1, rounds + 1):
            say(f"round {number} of {rounds}: every HTTP and task row, in turn")
            one_round(bench, rows, seconds, tasks)
        measured = list(rows.values())
        ratio(measured)
        if plan.variants:
            say("step 2's workers with one setting changed, each against the base, in turn")
            worker_variants(bench, measured, tasks, 2)
    report = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "rounds": rounds,
        "seconds": seconds,
        "tasks": tasks,
        "plan": asdict(plan),
        "minutes": round((time.monotonic() - clock) / 60, 1),
        "rows": [asdict(row) for row in measured],
    }
    previous = out / "bench.json"
    if previous.exists():
        previous.replace(out / "bench-previous.json")
    write(report, out, console)
    return 0


def write(report: dict, out: Path, console: Console) -> None:
    """The table in the terminal and in bench.md, the figures in bench.json, the plot; each ratio
    next to the run before's (bench-previous.json), when there is one."""
    before = out / "bench-previous.json"
    previous = json.loads(before.read_text()) if before.exists() else None
    shown = table(report, previous)
    note = (
        f"{report['machine']}. {report['rounds']} rounds after a warm-up, {report['minutes']} "
        f"min. HTTP rows: wrk, 20 connections (each reopened after 20 requests), "
        f"{report['seconds']:g} s each, no worker consuming; task rows: {report['tasks']} "
        f"tasks. Unstable: a spread over {UNSTABLE:.0%} of the median. "
        f"{busy_machine(report)} {agreement(report, previous)}"
    ).strip()
    (out / "bench.json").write_text(json.dumps(report, indent=2))
    (out / "bench.md").write_text(f"# {shown.title}\n\n{note}\n\n{shown.markdown()}\n")
    plot(report, out / "bench.png")
    console.print(shown.rich())
    console.print(note, highlight=False)
    console.print(f"Written: {out / 'bench.md'}, {out / 'bench.json'}, {out / 'bench.png'}")


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [Row(**row) for row in report["rows"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 0.42 * len(rows) + 1.5), sharey=True)
    names = [row.path for row in rows][::-1]
    medians = [statistics.median(row.rates) for row in rows][::-1]
    spread = [
        [m - min(row.rates) for m, row in zip(medians, rows[::-1], strict=True)],
        [max(row.rates) - m for m, row in zip(medians, rows[::-1], strict=True)],
    ]
    left.barh(names, medians, xerr=spread, color="#4878a8", capsize=3)
    left.set_xlabel("items per second: median, and min to max of the rounds")
    left.set_xscale("log")
    bottom = [0.0] * len(rows)
    for number, group in enumerate(CPU_COLUMNS):
        values = [statistics.median(row.cpu_ms.get(group, [0.0])) for row in rows][::-1]
        right.barh(names, values, left=bottom, label=group, color=plt.cm.tab10(number))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    right.set_xlabel("CPU ms per item, by process (median)")
    # Below the bars, so that it hides none of them.
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=5, fontsize=8)
    fig.suptitle(f"make bench, {report['date']}: {report['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(bench(Console()))
