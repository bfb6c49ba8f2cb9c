"""`make faults` (python -m workshop faults): break step 2 under load, count what was lost.

Starts a step-2 stack of its own, the way the tests do (free ports, its own queue, worker names,
run folder and PostgreSQL database), with its broker and its result backend behind TCP relays
that can be cut. Then five scenarios, each under a bounded load (a few clients posting short
tasks and asking for their status):

1. a Celery worker SIGKILLed in the middle of tasks (supervisord starts it again);
2. a pool process of a worker SIGKILLed in the middle of a task;
3. RabbitMQ unreachable for a few seconds (its relay cut, then restored on the same port);
4. the result backend (Redis) unreachable for a few seconds;
5. Gunicorn reloaded (HUP) and a Celery worker restarted.

After each, it waits until every accepted task is SUCCESS (read from Redis), then prints one
table: accepted, finished, lost, run twice (the task history in PostgreSQL), the longest
recovery, and the failed requests by kind. Exit status 1 if a task is lost, a request failed
in a way the scenario does not excuse (a 503 only while a server is down), or the stack did
not come back; 2 when a server or nginx is missing. At the end the stack stops as with Ctrl-C
and its queue, results and database go: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from workshop.launcher.isolated import IsolatedStep
from workshop.launcher.processes import alive, stop_on_signals
from workshop.notebooks import available
from workshop.probe import celery_client, ping_workers, queue_depth
from workshop.registry import Step
from workshop.scratch import fresh_database
from workshop.settings import (
    DEFAULT_REDIS_URL,
    Settings,
    endpoint,
    safe_url,
    scheme,
)
from workshop.tcp_proxy import TcpProxy
from workshop.waiting import done_at, finished, is_json, wait_until

TASK_SECONDS = 0.3  # the work of one task: short, so that a scenario drains in seconds
CLIENTS = 3  # threads posting tasks; with PACE, about 8 tasks/s, below what 4 processes run
PACE = 0.35  # seconds between two rounds of one client (a POST, then a GET)
QUICK = 5.0  # an answer slower than this is a hang, whatever its status
OUTAGE = 3.0  # seconds a server stays unreachable
TAIL = 1.5  # seconds of load after a fault, to see the stack accept tasks again
DRAIN = 30.0  # seconds to wait for the accepted tasks to finish; after that they are lost
COLUMNS = (
    "scenario",
    "accepted",
    "finished",
    "lost",
    "ran twice",
    "recovery",
    "503 (slowest)",
    "failed",
)
RECOVERY = (
    "recovery: seconds from the end of a fault (the kill, the server back, the reload) until "
    "the API accepted a task again and every task accepted before then was SUCCESS; the "
    "longest of the scenario's faults."
)


@dataclass
class Tally:
    """What one scenario saw: every accepted task, every failed request, its faults."""

    name: str
    outage: bool  # a server is down on purpose: a quick JSON 503 is the right answer then
    accepted: dict[str, float] = field(default_factory=dict)  # task id -> when the 202 came
    requests: Counter = field(default_factory=Counter)  # kind -> count ("503", "hang"...)
    faults: list[float] = field(default_factory=list)  # when each fault ended (wall clock)
    finished: dict[str, float] = field(default_factory=dict)  # task id -> its date_done
    duplicated: int = 0
    slowest_503: float = 0.0  # seconds
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def lost(self) -> list[str]:
        return [task_id for task_id in self.accepted if task_id not in self.finished]

    @property
    def failures(self) -> int:
        """Requests that failed in a way this scenario does not excuse."""
        excused = {"503"} if self.outage else set()
        return sum(n for kind, n in self.requests.items() if kind not in excused)

    def recovery(self) -> float | None:
        """The longest recovery of its faults (RECOVERY says what it is); None: never."""
        longest = 0.0
        for end in self.faults:
            again = [when for when in self.accepted.values() if when >= end]
            before = [task_id for task_id, when in self.accepted.items() if when < end]
            if not again or any(task_id not in self.finished for task_id in before):
                return None
            drained = max((self.finished[task_id] for task_id in before), default=end)
            longest = max(longest, max(min(again), drained) - end)
        return longest

    def ok(self) -> bool:
        return (
            not self.lost
            and not self.failures
            and not self.problems
            and self.recovery() is not None
        )


class Load:
    """CLIENTS threads, each posting a task then asking for the status of its last one, every
    PACE seconds, until stopped. Each answer is sorted: accepted, fine, or a failure by kind."""

    def __init__(self, base_url: str, tally: Tally):
        self.base_url, self.tally = base_url, tally
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=2 * QUICK)

    def client(self) -> None:
        last: str | None = None
        with httpx.Client(base_url=self.base_url, timeout=2 * QUICK) as client:
            while not self.stop.is_set():
                answer = self.ask(client, "POST", "/api/process_data", {"seconds": TASK_SECONDS})
                if answer is not None and answer.status_code == 202:
                    last = answer.json()["task_id"]
                    with self.tally.lock:
                        self.tally.accepted[last] = time.time()
                if last:
                    self.ask(client, "GET", f"/api/tasks/{last}")
                self.stop.wait(PACE)  # the pace of one client: the load stays bounded

    def ask(self, client: httpx.Client, method: str, path: str, body=None) -> httpx.Response | None:
        began = time.monotonic()
        try:
            answer = client.request(method, path, json=body)
        except httpx.TimeoutException:
            self.failed(f"{method} hang")
            return None
        except httpx.TransportError:
            self.failed(f"{method} conn. error")
            return None
        took = time.monotonic() - began
        if took > QUICK:
            self.failed(f"{method} hang")
        elif answer.status_code == 503 and is_json(answer):
            self.failed("503")
            with self.tally.lock:
                self.tally.slowest_503 = max(self.tally.slowest_503, took)
        elif answer.status_code >= 500:
            self.failed(f"{method} {answer.status_code}")
        return answer

    def failed(self, kind: str) -> None:
        with self.tally.lock:
            self.tally.requests[kind] += 1

    def accepting_after(self, moment: float, at_least: float, timeout: float = 20) -> None:
        """Keep the load on for `at_least` seconds after `moment`, and until a task was accepted
        after it (at most `timeout` seconds: then the scenario reports it)."""

        def seen() -> bool:
            with self.tally.lock:
                again = any(when >= moment for when in self.tally.accepted.values())
            return again and time.time() >= moment + at_least

        try:
            wait_until(seen, timeout, what="a task accepted after the fault")
        except TimeoutError:
            self.tally.problems.append(f"no task accepted within {timeout:g} s after the fault")


def relayed(url: str, port: int) -> str:
    """The same URL (user, password, path) to 127.0.0.1:`port`: through a relay."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(
        parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}")
    )


class RelayedStep(IsolatedStep):
    """The step, started in the background on free ports, its broker and result backend behind
    relays this command cuts and restores."""

    def __init__(self, step: Step, run_dir: Path, broker: str, backend: str, database: str):
        self.rabbit = TcpProxy(endpoint(broker)).start()
        self.redis = TcpProxy(endpoint(backend)).start()
        super().__init__(
            step.name,
            run_dir,
            prefix="faults",
            CELERY_BROKER_URL=relayed(broker, self.rabbit.port),
            CELERY_RESULT_BACKEND=relayed(backend, self.redis.port),
            DATABASE_URL=database,
            GUNICORN_WORKERS="2",  # two cores: the load generator needs one too
            OTEL_SDK_DISABLED="true",  # no spans: this run counts tasks, not hops
        )
        self.broker, self.database = broker, database  # the servers themselves, not the relays
        names = zip(self.step.workers(), self.worker_names(), strict=True)
        programs = {program.ready: program.name for program in self.step.programs}
        self.workers = {programs[ping]: name for ping, name in names}
        self.celery = celery_client(
            {
                **self.environment().variables,
                "CELERY_BROKER_URL": broker,
                "CELERY_RESULT_BACKEND": backend,
            }
        )
        self.seen: set[psutil.Process] = set()  # pool processes of killed workers
        self.tallies: list[Tally] = []

    def pid(self, program: str) -> int:
        return int(self.supervisorctl("pid", program).strip())

    def busy_pool_processes(self, program: str) -> list[int]:
        """The pids of the pool processes of `program` that run a task right now."""
        worker = self.workers[program]
        replies = self.celery.control.inspect(destination=[worker], timeout=1, limit=1).active()
        return [task["worker_pid"] for task in (replies or {}).get(worker, [])]

    def wait_for_workers(self, tally: Tally, timeout: float = 30) -> None:
        """Until every worker answers ping (a restarted one has booted); else a problem."""
        names = list(self.workers.values())
        try:
            wait_until(
                lambda: set(names) <= set(ping_workers(self.broker, {}, 1, only=names)),
                timeout,
                what="every worker answering ping",
            )
        except TimeoutError:
            tally.problems.append(f"a worker did not answer ping within {timeout:g} s")

    def wait_for_tasks(self, tally: Tally) -> None:
        """Until every accepted task is SUCCESS in the result backend and the queue is empty,
        or DRAIN seconds: what is not SUCCESS by then is lost."""
        deadline = time.monotonic() + DRAIN
        pending = [task_id for task_id in tally.accepted if task_id not in tally.finished]
        for task_id, result in finished(self.celery, pending, DRAIN).items():
            if result.state == "SUCCESS":
                tally.finished[task_id] = done_at(result)
        with contextlib.suppress(TimeoutError):  # a queue that never empties: tally.lost says
            wait_until(
                lambda: not queue_depth(self.broker, {}, self.queue),
                max(0.0, deadline - time.monotonic()),
                interval=0.2,
                what="an empty queue",
            )

    def count_duplicates(self) -> None:
        """Tasks the history says ran more than once (`runs` > 1), per scenario."""
        query = sql.SQL("SELECT task_id FROM {} WHERE runs > 1").format(
            sql.Identifier(self.step.history)
        )
        with psycopg.connect(self.database, connect_timeout=5) as connection:
            twice = {row[0] for row in connection.execute(query)}
        for tally in self.tallies:
            tally.duplicated = len(twice & tally.accepted.keys())

    def stop_all(self, console: Console) -> list[int]:
        """Ctrl-C for the stack; then its relays, queue and results go. The pids that had to be
        killed (the pool processes of a killed worker included): none, if all went well."""
        began = time.monotonic()
        left = self.stop()
        for process in alive(self.seen):
            left.append(process.pid)
            process.kill()
        self.rabbit.cut()
        self.redis.cut()
        for tally in self.tallies:  # results would stay a day in Redis
            for task_id in tally.accepted:
                self.celery.backend.forget(task_id)
        note = f", [red]{len(left)} processes had to be killed[/]: {left}" if left else ""
        console.print(f"Stopped in {time.monotonic() - began:.1f} s{note}.", highlight=False)
        return left


def sigkill_worker(stack: RelayedStep, load: Load, tally: Tally) -> None:
    """worker1's main process dies with its unacknowledged messages: RabbitMQ delivers them
    again (acks late), supervisord starts a new worker1."""
    old = stack.pid("worker1")
    wait_until(lambda: stack.busy_pool_processes("worker1"), 10, what="worker1 running a task")
    pool = psutil.Process(old).children()
    stack.seen.update(pool)
    os.kill(old, signal.SIGKILL)
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], TAIL)

    def restarted() -> bool:
        status = re.search(r"RUNNING\s+pid (\d+)", stack.supervisorctl("status", "worker1"))
        return bool(status) and int(status.group(1)) != old

    wait_until(restarted, 30, what="supervisord restarting worker1")
    try:  # the killed worker's pool processes end with it: none is left behind
        wait_until(lambda: not alive(pool), 15, what="the old pool processes gone")
    except TimeoutError:
        tally.problems.append(f"{len(alive(pool))} pool processes of the killed worker1 left")


def sigkill_pool_process(stack: RelayedStep, load: Load, tally: Tally) -> None:
    """A pool process dies mid-task: its worker rejects the message (reject on worker lost),
    RabbitMQ delivers it again, and the worker starts a new pool process."""
    main = psutil.Process(stack.pid("worker2"))
    busy = wait_until(lambda: stack.busy_pool_processes("worker2"), 10, what="worker2 busy")
    pool = main.children()
    os.kill(busy[0], signal.SIGKILL)
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], TAIL)
    wait_until(lambda: len(alive(main.children())) >= len(pool), 10, what="a new pool process")


def outage(relay: Callable[[RelayedStep], TcpProxy]) -> Callable[[RelayedStep, Load, Tally], None]:
    def scenario(stack: RelayedStep, load: Load, tally: Tally) -> None:
        proxy = relay(stack)
        proxy.cut()
        # The outage itself: its length is the point, not a wait for something to happen.
        load.stop.wait(OUTAGE)
        proxy.restore()
        tally.faults.append(time.time())
        load.accepting_after(tally.faults[-1], TAIL)

    return scenario


def reload_web_and_restart_worker(stack: RelayedStep, load: Load, tally: Tally) -> None:
    """Gunicorn's HUP starts new workers and lets the old ones finish their requests;
    supervisorctl restart gives worker2 a warm shutdown: it finishes its tasks first."""
    stack.supervisorctl("signal", "HUP", "gunicorn")
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], TAIL)
    stack.supervisorctl("restart", "worker2")
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], TAIL)


SCENARIOS: list[tuple[str, bool, Callable[[RelayedStep, Load, Tally], None]]] = [
    ("1. worker SIGKILLed", False, sigkill_worker),
    ("2. pool process SIGKILLed", False, sigkill_pool_process),
    (f"3. RabbitMQ down {OUTAGE:g} s", True, outage(lambda stack: stack.rabbit)),
    (f"4. Redis down {OUTAGE:g} s", True, outage(lambda stack: stack.redis)),
    ("5. Gunicorn HUP, worker restart", False, reload_web_and_restart_worker),
]


def run_scenario(stack: RelayedStep, name: str, outage: bool, action, console: Console) -> Tally:
    tally = Tally(name, outage)
    began = time.monotonic()
    try:
        with Load(stack.url(), tally) as load:
            # Tasks in flight before the fault: wait for the first ones to be accepted.
            wait_until(lambda: len(tally.accepted) >= CLIENTS, 10, what="the first tasks accepted")
            action(stack, load, tally)
    except TimeoutError as error:  # a step of the scenario that never came: say which
        tally.problems.append(str(error))
    stack.wait_for_tasks(tally)
    stack.wait_for_workers(tally)
    mark = "[green]✓[/]" if tally.ok() else "[red]✗[/]"
    console.print(
        f"{mark} {name}: {len(tally.accepted)} accepted, {len(tally.lost)} lost "
        f"({time.monotonic() - began:.1f} s)",
        *(f"\n  {problem}" for problem in tally.problems),
        highlight=False,
    )
    return tally


def print_table(tallies: list[Tally], console: Console) -> None:
    table = Table(title="Faults under load: nothing accepted may be lost")
    # In a narrow terminal the names wrap, never the figures; they keep 16 columns all the same.
    table.add_column(COLUMNS[0], min_width=16)
    for column in COLUMNS[1:]:
        table.add_column(column, no_wrap=True, justify="right")
    for tally in tallies:
        recovery = tally.recovery()
        shown_503 = tally.requests["503"]
        if shown_503:
            shown_503 = f"{shown_503} ({tally.slowest_503:.2f} s)"
        others = ", ".join(f"{k}: {n}" for k, n in sorted(tally.requests.items()) if k != "503")
        lost = len(tally.lost)
        table.add_row(
            tally.name,
            str(len(tally.accepted)),
            str(len(tally.finished)),
            f"[red]{lost}[/]" if lost else "0",
            str(tally.duplicated),
            "[red]never[/]" if recovery is None else f"{recovery:.1f} s",
            str(shown_503) if tally.outage or not shown_503 else f"[red]{shown_503}[/]",
            f"[red]{others}[/]" if others else "0",
        )
    console.print(table)
    console.print(RECOVERY, highlight=False)
    console.print(
        "503: quick JSON answers while a server is down, and the slowest (expected in 3 and 4, "
        f"a failure elsewhere). Failed: any other 5xx, an answer slower than {QUICK:g} s "
        "(a hang), a connection error. Ran twice: runs > 1 in the task history (late acks "
        "mean at least once).",
        highlight=False,
    )


def missing(step: Step, backend: str) -> list[str]:
    """What this machine lacks for the run, one line each with its fix."""
    needed = [*step.needs, "rabbitmq", "redis", "postgresql"]
    lines = [f"✗ {why}" for present, why in map(available, needed) if not present]
    if scheme(backend) != "redis":
        lines.append(f"✗ CELERY_RESULT_BACKEND={safe_url(backend)}: this run needs Redis")
    return lines


def faults(step: Step, console: Console) -> int:
    settings = Settings()
    broker, database = settings.celery_broker_url, settings.database_url
    backend = settings.celery_result_backend or DEFAULT_REDIS_URL
    lacking = missing(step, backend)
    if lacking:
        console.print("\n".join(lacking), highlight=False)
        return 2
    stop_on_signals()  # `kill` or a closed terminal stops the stack too, like Ctrl-C
    settings.workshop_run_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="faults-", dir=settings.workshop_run_dir))
    code = 1
    try:
        with fresh_database(database, prefix="workshop_faults") as url:
            stack = RelayedStep(step, run_dir, broker, backend, url)
            try:
                code = run_all(stack, console)
            finally:  # whatever happened, even Ctrl-C: the stack stops, its traces go
                if stack.stop_all(console) and code == 0:
                    code = 1
    except KeyboardInterrupt:
        console.print("Interrupted.")
        code = 130
    if code == 0:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        console.print(f"The stack's logs: {run_dir}/{step.name}/logs/", highlight=False)
    return code


def run_all(stack: RelayedStep, console: Console) -> int:
    """Start the stack, run every scenario, print the table; 0 when nothing went wrong."""
    name = stack.step.name
    console.rule(f"{name}: its own stack on free ports, broker and results behind relays")
    began = time.monotonic()
    if not stack.launcher.start(timeout=120):
        console.print(f"[red]✗ {name} did not start[/]: read {stack.launcher.log}")
        return 1
    console.print(f"{name} is up in {time.monotonic() - began:.1f} s.")
    stack.tallies = [run_scenario(stack, *scenario, console) for scenario in SCENARIOS]
    stack.count_duplicates()
    print_table(stack.tallies, console)
    return 0 if all(tally.ok() for tally in stack.tallies) else 1
