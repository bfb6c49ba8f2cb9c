"""What every `make faults` run shares: a stack of its own behind relays, a bounded load of
clients, the count of one scenario (a Tally), the faults themselves, and the table at the end.

A scenario is a function `(stack, load, tally)` that breaks something while the load runs and
notes in `tally.faults` when each fault ended; `run_scenario` then waits for the stack to settle
(each kind of stack says what "settled" means) and prints one line. workshop/faults/tasks.py
(step 2) and workshop/faults/workflows.py (steps 3 and 4) build on it.
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
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from workshop.launcher.isolated import IsolatedStep
from workshop.launcher.processes import alive, stop_on_signals
from workshop.probe import celery_client, ping_workers
from workshop.registry import Step
from workshop.settings import Settings, endpoint
from workshop.tcp_proxy import TcpProxy
from workshop.waiting import is_json, wait_until

RECOVERY = (
    "recovery: seconds from the end of a fault (the kill, the server back, the reload) until "
    "the API accepted work again and everything accepted before then had ended; the longest "
    "of the scenario's faults."
)


@dataclass(frozen=True)
class Timing:
    """How long a run breaks things and waits for them: `make faults` uses the defaults, the
    tests shorter ones."""

    outage: float = 3.0  # seconds a server stays unreachable
    tail: float = 1.5  # seconds of load after a fault, to see the stack accept work again
    drain: float = 30.0  # seconds to wait for what was accepted to end; after that: lost
    quick: float = 5.0  # an answer slower than this is a hang, whatever its status
    first: int = 3  # accepted before the fault: work in flight when it comes


@dataclass(frozen=True)
class Workload:
    """What the load's clients do, through the step's HTTP API: POST `submit` with `body`, keep
    the answer's `id_field`, then GET `status` (with {id}) of the last one, every `pace` s."""

    submit: str
    body: dict
    id_field: str
    status: str
    clients: int
    pace: float


@dataclass
class Tally:
    """What one scenario saw: everything accepted and how it ended, every failed request."""

    name: str
    outage: bool  # a server is down on purpose: a quick JSON 503 is the right answer then
    accepted: dict[str, float] = field(default_factory=dict)  # id -> when the 202 came
    requests: Counter = field(default_factory=Counter)  # kind -> count ("503", "hang"...)
    faults: list[float] = field(default_factory=list)  # when each fault ended (wall clock)
    ended: dict[str, float] = field(default_factory=dict)  # id -> when it reached its end
    errors: dict[str, str] = field(default_factory=dict)  # id -> its error, when it FAILED
    stranded: dict[str, str] = field(default_factory=dict)  # id -> the state it stayed in
    duplicated: int = 0
    slowest_503: float = 0.0  # seconds
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def finished(self) -> list[str]:
        """Ended well: SUCCESS."""
        return [key for key in self.ended if key not in self.errors]

    @property
    def lost(self) -> list[str]:
        """Accepted, and then nothing: never ended, never even started."""
        return [key for key in self.accepted if key not in self.ended and key not in self.stranded]

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
            before = [key for key, when in self.accepted.items() if when < end]
            if not again or any(key not in self.ended for key in before):
                return None
            drained = max((self.ended[key] for key in before), default=end)
            longest = max(longest, max(min(again), drained) - end)
        return longest

    def ok(self) -> bool:
        return not (
            self.lost or self.stranded or self.errors or self.failures or self.problems
        ) and (self.recovery() is not None)


class Load:
    """The workload's clients, each posting then asking for the status of its last one, every
    `pace` seconds, until stopped. Each answer is sorted: accepted, fine, or a failure by kind."""

    def __init__(self, base_url: str, tally: Tally, workload: Workload, timing: Timing):
        self.base_url, self.tally, self.workload, self.timing = base_url, tally, workload, timing
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.client, daemon=True) for _ in range(workload.clients)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=2 * self.timing.quick)

    def client(self) -> None:
        last: str | None = None
        work = self.workload
        with httpx.Client(base_url=self.base_url, timeout=2 * self.timing.quick) as client:
            while not self.stop.is_set():
                answer = self.ask(client, "POST", work.submit, work.body)
                if answer is not None and answer.status_code == 202:
                    last = answer.json()[work.id_field]
                    with self.tally.lock:
                        self.tally.accepted[last] = time.time()
                if last:
                    self.ask(client, "GET", work.status.format(id=last))
                self.stop.wait(work.pace)  # the pace of one client: the load stays bounded

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
        if took > self.timing.quick:
            self.failed(f"{method} hang")
        elif answer.status_code == 503 and is_json(answer):
            self.failed("503")
            with self.tally.lock:
                self.tally.slowest_503 = max(self.tally.slowest_503, took)
        elif answer.status_code >= 500 and not states_an_outcome(answer):
            self.failed(f"{method} {answer.status_code}")
        return answer

    def failed(self, kind: str) -> None:
        with self.tally.lock:
            self.tally.requests[kind] += 1

    def accepting_after(self, moment: float, at_least: float, timeout: float = 30) -> None:
        """Keep the load on for `at_least` seconds after `moment`, and until something was
        accepted after it (at most `timeout` seconds: then the scenario reports it)."""

        def seen() -> bool:
            with self.tally.lock:
                again = any(when >= moment for when in self.tally.accepted.values())
            return again and time.time() >= moment + at_least

        try:
            wait_until(seen, timeout, what="work accepted after the fault")
        except TimeoutError:
            self.tally.problems.append(f"nothing accepted within {timeout:g} s after the fault")


def states_an_outcome(answer: httpx.Response) -> bool:
    """A status answer that reports a failed task (step 4 answers a FAILURE with a 500 and its
    state): the API did its job."""
    return is_json(answer) and isinstance(answer.json(), dict) and "state" in answer.json()


def relayed(url: str, port: int) -> str:
    """The same URL (user, password, path) to 127.0.0.1:`port`: through a relay."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(
        parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}")
    )


class FaultyStack(IsolatedStep, ABC):
    """A step started in the background on free ports, its broker behind a relay that a
    scenario cuts and restores. Subclasses put more servers behind relays, and say when the
    work of a scenario has settled (`settle`)."""

    timing = Timing()

    def __init__(self, step: Step, run_dir: Path, broker: str, backend: str, **env: str):
        self.rabbit = TcpProxy(endpoint(broker)).start()
        super().__init__(
            step.name,
            run_dir,
            prefix="faults",
            CELERY_BROKER_URL=relayed(broker, self.rabbit.port),
            OTEL_SDK_DISABLED="true",  # no spans: this run counts work, not hops
            **env,
        )
        self.broker = broker  # the server itself, not the relay: where the queues are deleted
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

    def relays(self) -> list[TcpProxy]:
        return [self.rabbit]

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

    @abstractmethod
    def settle(self, tally: Tally) -> None:
        """Wait until what the scenario accepted has ended, or `timing.drain` seconds: each kind
        of stack (tasks.py, workflows.py) knows how to follow what it accepted."""

    def after_all(self) -> None:
        """Once every scenario ran, before the table: what the table needs besides the tallies."""

    def forget(self) -> None:
        """Delete what the run left in the result backend, if it outlives the run."""

    def stop_all(self, console: Console) -> list[int]:
        """Ctrl-C for the stack; then its relays and queue go. The pids that had to be killed
        (the pool processes of a killed worker included): none, if all went well."""
        began = time.monotonic()
        left = self.stop()
        for process in alive(self.seen):
            left.append(process.pid)
            process.kill()
        for relay in self.relays():
            relay.cut()
        self.forget()
        note = f", [red]{len(left)} processes had to be killed[/]: {left}" if left else ""
        console.print(f"Stopped in {time.monotonic() - began:.1f} s{note}.", highlight=False)
        return left


Action = Callable[[FaultyStack, Load, Tally], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    outage: bool  # a server is down on purpose: quick JSON 503s are excused
    action: Action


def sigkill_worker(program: str, pool_too: bool = False) -> Action:
    """`program`'s main process dies with its unacknowledged messages: RabbitMQ delivers them
    again (acks late), supervisord starts the worker again. `pool_too`: its pool processes die
    in the same instant (the whole worker, killed mid-task); otherwise they must end by
    themselves once their parent is gone."""

    def scenario(stack: FaultyStack, load: Load, tally: Tally) -> None:
        old = stack.pid(program)
        wait_until(lambda: stack.busy_pool_processes(program), 20, what=f"{program} running a task")
        pool = psutil.Process(old).children()
        stack.seen.update(pool)
        os.kill(old, signal.SIGKILL)
        if pool_too:
            for process in pool:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
        tally.faults.append(time.time())
        load.accepting_after(tally.faults[-1], stack.timing.tail)

        def restarted() -> bool:
            status = re.search(r"RUNNING\s+pid (\d+)", stack.supervisorctl("status", program))
            return bool(status) and int(status.group(1)) != old

        wait_until(restarted, 30, what=f"supervisord restarting {program}")
        try:  # the killed worker's pool processes end with it: none is left behind
            wait_until(lambda: not alive(pool), 15, what="the old pool processes gone")
        except TimeoutError:
            tally.problems.append(f"{len(alive(pool))} pool processes of the killed {program} left")

    return scenario


def outage(relay: Callable[[FaultyStack], TcpProxy]) -> Action:
    """The relay to a server is cut for `timing.outage` seconds, then restored on its port."""

    def scenario(stack: FaultyStack, load: Load, tally: Tally) -> None:
        proxy = relay(stack)
        proxy.cut()
        # The outage itself: its length is the point, not a wait for something to happen.
        load.stop.wait(stack.timing.outage)
        proxy.restore()
        tally.faults.append(time.time())
        load.accepting_after(tally.faults[-1], stack.timing.tail)

    return scenario


def run_scenario(
    stack: FaultyStack, scenario: Scenario, workload: Workload, console: Console
) -> Tally:
    tally = Tally(scenario.name, scenario.outage)
    began = time.monotonic()
    try:
        with Load(stack.url(), tally, workload, stack.timing) as load:
            # Work in flight before the fault: wait for the first ones to be accepted.
            wait_until(
                lambda: len(tally.accepted) >= stack.timing.first,
                20,
                what="the first work accepted",
            )
            scenario.action(stack, load, tally)
    except TimeoutError as error:  # a step of the scenario that never came: say which
        tally.problems.append(str(error))
    stack.settle(tally)
    stack.wait_for_workers(tally)
    mark = "[green]✓[/]" if tally.ok() else "[red]✗[/]"
    stuck = f", {len(tally.stranded)} stranded" if tally.stranded else ""
    failed = f", {len(tally.errors)} failed" if tally.errors else ""
    console.print(
        f"{mark} {scenario.name}: {len(tally.accepted)} accepted, {len(tally.lost)} lost"
        f"{stuck}{failed} ({time.monotonic() - began:.1f} s)",
        *(f"\n  {problem}" for problem in tally.problems),
        *(f"\n  failed {key}: {error}" for key, error in list(tally.errors.items())[:5]),
        *(f"\n  stranded {key}: {state}" for key, state in list(tally.stranded.items())[:5]),
        highlight=False,
    )
    return tally


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[Tally], str]


def count(values, bad: bool = True) -> str:
    """A count for the table, red when it is not 0 and that is bad."""
    number = len(values) if not isinstance(values, int) else values
    return f"[red]{number}[/]" if number and bad else str(number)


def recovery_cell(tally: Tally) -> str:
    recovery = tally.recovery()
    return "[red]never[/]" if recovery is None else f"{recovery:.1f} s"


def answers_503(tally: Tally) -> str:
    shown = tally.requests["503"]
    text = f"{shown} ({tally.slowest_503:.2f} s)" if shown else "0"
    return text if tally.outage or not shown else f"[red]{text}[/]"


def failed_requests(tally: Tally) -> str:
    others = ", ".join(f"{k}: {n}" for k, n in sorted(tally.requests.items()) if k != "503")
    return f"[red]{others}[/]" if others else "0"


def print_table(title: str, tallies: list[Tally], columns: list[Column], console: Console) -> None:
    table = Table(title=title)
    # In a narrow terminal the names wrap, never the figures; they keep 16 columns all the same.
    table.add_column(columns[0].title, min_width=16)
    for column in columns[1:]:
        table.add_column(column.title, no_wrap=True, justify="right")
    for tally in tallies:
        table.add_row(*(column.cell(tally) for column in columns))
    console.print(table)


@dataclass(frozen=True)
class Plan:
    """One `make faults` run: its scenarios, its load, and how its table reads."""

    title: str
    scenarios: list[Scenario]
    workload: Workload
    columns: list[Column]
    notes: tuple[str, ...]


def run_all(stack: FaultyStack, plan: Plan, console: Console) -> int:
    """Start the stack, run every scenario, print the table; 0 when nothing went wrong."""
    name = stack.step.name
    console.rule(f"{name}: its own stack on free ports, its servers behind relays")
    began = time.monotonic()
    if not stack.launcher.start(timeout=120):
        console.print(f"[red]✗ {name} did not start[/]: read {stack.launcher.log}")
        return 1
    console.print(f"{name} is up in {time.monotonic() - began:.1f} s.")
    stack.tallies = [
        run_scenario(stack, scenario, plan.workload, console) for scenario in plan.scenarios
    ]
    stack.after_all()
    print_table(plan.title, stack.tallies, plan.columns, console)
    for note in (RECOVERY, *plan.notes):
        console.print(note, highlight=False)
    return 0 if all(tally.ok() for tally in stack.tallies) else 1


def command(
    step: Step,
    console: Console,
    lacking: list[str],
    stack_in: Callable[[Path], contextlib.AbstractContextManager[FaultyStack]],
    plan: Plan,
) -> int:
    """The frame of `make faults`: what is missing (exit 2), a run folder, the stack in it (made
    by `stack_in`, with what it needs around it), every scenario; then everything stops, even
    on Ctrl-C, and the run folder goes unless something went wrong (its logs are there)."""
    if lacking:
        console.print("\n".join(lacking), highlight=False)
        return 2
    stop_on_signals()  # `kill` or a closed terminal stops the stack too, like Ctrl-C
    settings = Settings()
    settings.workshop_run_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="faults-", dir=settings.workshop_run_dir))
    code = 1
    try:
        with stack_in(run_dir) as stack:
            try:
                code = run_all(stack, plan, console)
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
