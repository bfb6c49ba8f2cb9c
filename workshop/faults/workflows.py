"""Steps 3 and 4 broken under load, while their chords run: is a workflow lost, or stranded?

Each step runs on a stack of its own, with its result store on a private server (a PostgreSQL
cluster for step 3, whose database holds the results and the chord counter; a Redis for step
4), so that the store can be restarted without touching the machine's shared one. The broker
and the store are reached through relays. The load: clients posting workflows (step 3: scrapes
of the demo blog, a chord of 23 fetches each; step 4: chords of add and multiply, then combine)
and asking for their state. The scenarios:

1. the worker SIGKILLed with its pool, in the middle of a chord's tasks;
2. RabbitMQ unreachable (its relay cut, then restored);
3. the result store unreachable (its relay cut; step 4: Redis paused too, as CLIENT PAUSE does);
4. the result store restarted (pg_ctl restart -m fast; Redis: SHUTDOWN SAVE and start again).

After each, every accepted workflow is followed through the step's own API until it ends.
Finished: SUCCESS. Failed: FAILURE, with the error the API gives. Stranded: started, and still
not ended after `drain` seconds (a chord whose callback can never run stays PROGRESS for ever).
Lost: accepted, and then nothing ran. A short outage must delay a workflow: any failed,
stranded or lost one makes the run fail.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from workshop.faults import servers
from workshop.faults.core import (
    Column,
    FaultyStack,
    Load,
    Plan,
    Scenario,
    Tally,
    Timing,
    Workload,
    answers_503,
    command,
    count,
    failed_requests,
    outage,
    recovery_cell,
    relayed,
    sigkill_worker,
)
from workshop.faults.servers import PrivatePostgres, PrivateRedis
from workshop.notebooks import available
from workshop.registry import Step
from workshop.settings import Settings
from workshop.tcp_proxy import TcpProxy
from workshop.waiting import wait_until

TIMING = Timing(outage=10.0, tail=2.0, drain=90.0, quick=5.0, first=3)


@dataclass(frozen=True)
class Outcome:
    """Where one workflow stands, as its step's API says: SUCCESS, FAILURE, PENDING (nothing of
    it has run), RUNNING, STRANDED (the API says it will never end), or GONE (the API has never
    heard of it)."""

    state: str
    detail: str = ""

    @property
    def ended(self) -> bool:
        return self.state in ("SUCCESS", "FAILURE")


def scrape_outcome(client: httpx.Client, task_id: str) -> Outcome:
    """Step 3: GET /api/tasks/<id>, the scrape and its chord."""
    answer = client.get(f"/api/tasks/{task_id}")
    if answer.status_code == 404:
        return Outcome("GONE", answer.text)
    answer.raise_for_status()  # a 503 while a server is away: asked again
    body = answer.json()
    state = body["state"]
    if state in ("SUCCESS", "PENDING"):
        return Outcome(state)
    if state == "FAILURE":
        error = body.get("error", "")
        # The API's own finding: a fetch lost for good holds the chord (articles/api.py).
        return Outcome("STRANDED" if error.startswith("stranded:") else state, error)
    progress = body.get("progress")
    where = f" {progress['done']} of {progress['total']} fetched" if progress else ""
    return Outcome("RUNNING", f"{state}{where}")


def chord_outcome(client: httpx.Client, workflow_id: str) -> Outcome:
    """Step 4: GET /workflows/<id>, each node of the chord."""
    answer = client.get(f"/workflows/{workflow_id}")
    if answer.status_code == 404:
        return Outcome("GONE", answer.text)
    answer.raise_for_status()
    body = answer.json()
    nodes = {node["id"]: node["label"] for node in body["nodes"]}
    states = body["states"]
    seen = ", ".join(f"{nodes[key]} {node['state']}" for key, node in states.items())
    if body["finished"]:
        if states[body["task_id"]]["state"] == "SUCCESS":
            return Outcome("SUCCESS")
        errors = [
            f"{nodes[key]}: {node.get('error', node['state'])}" for key, node in states.items()
        ]
        return Outcome("FAILURE", "; ".join(errors))
    if all(node["state"] == "PENDING" for node in states.values()):
        return Outcome("PENDING", seen)
    return Outcome("RUNNING", seen)


@dataclass(frozen=True)
class Kind:
    """What differs between steps 3 and 4 for this command."""

    store: str  # the result store's name, in the scenarios' names
    private: Callable[[], PrivatePostgres | PrivateRedis]
    workload: Workload
    read: Callable[[httpx.Client, str], Outcome]
    env: Callable[[str], dict[str, str]]  # the stack's variables, given the store's URL


KINDS = {
    "step03": Kind(
        store="PostgreSQL",
        private=PrivatePostgres,
        # A scrape is 25 tasks: one client, one scrape every 4 s, about half the worker's time
        # (4 pool processes: a fetch mostly waits for the blog and the database).
        workload=Workload("/api/scrape", {}, "task_id", "/api/tasks/{id}", clients=1, pace=4.0),
        read=scrape_outcome,
        env=lambda url: {
            "DATABASE_URL": url,
            "CELERY_RESULT_BACKEND": "django-db",
            "SCRAPE_EVERY": "0",  # no scheduled scrapes: the load is the tool's
            "GUNICORN_WORKERS": "1",  # two cores: the load generator needs one too
            "WORKER_CONCURRENCY": "4",
        },
    ),
    "step04": Kind(
        store="Redis",
        private=PrivateRedis,
        # add takes 2 s (in ten PROGRESS steps), multiply 0.2 s: two clients, a chord every
        # 0.75 s, three or four in flight; 4 pool processes (the tasks sleep) run 1.8 a second.
        workload=Workload(
            "/workflows/chord", {"a": 3, "b": 4}, "workflow_id", "/workflows/{id}", 2, 1.5
        ),
        read=chord_outcome,
        env=lambda url: {
            "CELERY_RESULT_BACKEND": url,
            "TASK_DELAY_SCALE": "0.1",
            "WORKER_CONCURRENCY": "4",
        },
    ),
}


class ChordStack(FaultyStack):
    """Step 3 or 4 with its result store on `store` (a private server), behind a relay."""

    def __init__(
        self,
        step: Step,
        run_dir: Path,
        broker: str,
        store: PrivatePostgres | PrivateRedis,
        timing: Timing = TIMING,
        workload: Workload | None = None,
        **env: str,
    ):
        self.kind = KINDS[step.name]
        self.store, self.timing = store, timing
        self.workload = workload or self.kind.workload
        self.store_relay = TcpProxy(("127.0.0.1", store.port)).start()
        url = relayed(store.url, self.store_relay.port)
        backend = url if isinstance(store, PrivateRedis) else "disabled"  # read through the API
        super().__init__(step, run_dir, broker, backend, **{**self.kind.env(url), **env})

    def relays(self) -> list[TcpProxy]:
        return [self.rabbit, self.store_relay]

    def settle(self, tally: Tally) -> None:
        """Follow every accepted workflow through the API until it ends, or `drain` seconds.
        Then: started and not ended is stranded; never started is lost."""
        deadline = time.monotonic() + self.timing.drain
        last: dict[str, Outcome] = {}

        def following(key: str) -> bool:
            return key not in last or not (last[key].ended or last[key].state == "STRANDED")

        with httpx.Client(base_url=self.url(), timeout=self.timing.quick) as client:
            while True:
                for key in [key for key in tally.accepted if following(key)]:
                    try:
                        outcome = last[key] = self.kind.read(client, key)
                    except httpx.HTTPError:  # the stack still recovering: next round
                        continue
                    if outcome.ended:
                        tally.ended[key] = time.time()
                    if outcome.state == "FAILURE":
                        tally.errors[key] = outcome.detail
                if not any(map(following, tally.accepted)) or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
        for key, outcome in last.items():
            if outcome.state in ("RUNNING", "STRANDED"):
                tally.stranded[key] = outcome.detail


def restart_store(stack: ChordStack, load: Load, tally: Tally) -> None:
    """The result store restarts while chords run: every connection to it ends."""
    wait_until(lambda: stack.busy_pool_processes("worker"), 20, what="the worker running a task")
    stack.store.restart()
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], stack.timing.tail)


def pause_redis(stack: ChordStack, load: Load, tally: Tally) -> None:
    """Redis takes connections but answers nothing for `outage` seconds (CLIENT PAUSE ALL):
    every command waits, then each client's socket timeout decides."""
    wait_until(lambda: stack.busy_pool_processes("worker"), 20, what="the worker running a task")
    stack.store.pause(stack.timing.outage)
    load.stop.wait(stack.timing.outage)  # the pause itself
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], stack.timing.tail)


def scenarios(step: Step, timing: Timing) -> list[Scenario]:
    store = KINDS[step.name].store
    found = [
        Scenario("1. worker and pool SIGKILLed", False, sigkill_worker("worker", pool_too=True)),
        Scenario(f"2. RabbitMQ down {timing.outage:g} s", True, outage(lambda s: s.rabbit)),
        Scenario(f"3. {store} down {timing.outage:g} s", True, outage(lambda s: s.store_relay)),
    ]
    if store == "Redis":
        found.append(Scenario(f"3b. Redis paused {timing.outage:g} s", True, pause_redis))
    found.append(Scenario(f"4. {store} restarted", True, restart_store))
    return found


COLUMNS = (
    "scenario",
    "accepted",
    "finished",
    "failed",
    "lost",
    "stranded",
    "recovery",
    "503 (slowest)",
    "bad answers",
)
TABLE = [
    Column(COLUMNS[0], lambda tally: tally.name),
    Column(COLUMNS[1], lambda tally: str(len(tally.accepted))),
    Column(COLUMNS[2], lambda tally: str(len(tally.finished))),
    Column(COLUMNS[3], lambda tally: count(tally.errors)),
    Column(COLUMNS[4], lambda tally: count(tally.lost)),
    Column(COLUMNS[5], lambda tally: count(tally.stranded)),
    Column(COLUMNS[6], recovery_cell),
    Column(COLUMNS[7], answers_503),
    Column(COLUMNS[8], failed_requests),
]


def notes(timing: Timing) -> tuple[str, ...]:
    return (
        "finished: SUCCESS. failed: FAILURE, with its error. lost: accepted, then nothing ran. "
        f"stranded: started, and not ended {timing.drain:g} s after the scenario (a chord "
        "whose callback can never run). A short outage must delay a workflow, never fail, "
        "strand or lose it.",
        "503: quick JSON answers while a server is down, and the slowest (expected while one "
        f"is). bad answers: any other 5xx, an answer slower than {timing.quick:g} s (a hang), "
        "a connection error.",
    )


@contextlib.contextmanager
def chord_stack(
    step: Step,
    run_dir: Path,
    broker: str,
    timing: Timing = TIMING,
    workload: Workload | None = None,
    **env: str,
) -> Iterator[ChordStack]:
    """The private store, then the stack on it (not started yet); both gone afterwards."""
    with KINDS[step.name].private() as store:
        stack = ChordStack(step, run_dir, broker, store, timing, workload, **env)
        try:
            yield stack
        finally:
            for relay in stack.relays():
                relay.cut()


def plan(step: Step, timing: Timing = TIMING) -> Plan:
    title = (
        f"Faults under load, chords in flight: no workflow may be lost or stranded ({step.name})"
    )
    return Plan(title, scenarios(step, timing), KINDS[step.name].workload, TABLE, notes(timing))


def missing(step: Step) -> list[str]:
    """What this machine lacks for the run, one line each with its fix."""
    lines = [
        f"✗ {why}" for present, why in map(available, [*step.needs, "rabbitmq"]) if not present
    ]
    return lines + servers.missing()


def faults(step: Step, console: Console) -> int:
    """`make faults STEP=step03` or `STEP=step04`."""
    broker = Settings().celery_broker_url

    def stack_in(run_dir: Path) -> contextlib.AbstractContextManager[ChordStack]:
        return chord_stack(step, run_dir, broker)

    return command(step, console, missing(step), stack_in, plan(step))
