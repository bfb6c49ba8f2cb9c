"""Step 2 broken five ways under load: is an accepted task lost, or run twice?

Its own step-2 stack (free ports, its own queue, worker names, run folder and PostgreSQL
database), its broker and its result backend (Redis) behind relays. Each scenario runs under a
bounded load (a few clients posting short tasks and asking for their status):

1. a Celery worker SIGKILLed in the middle of tasks (supervisord starts it again);
2. a pool process of a worker SIGKILLed in the middle of a task;
3. RabbitMQ unreachable for a few seconds (its relay cut, then restored on the same port);
4. the result backend (Redis) unreachable for a few seconds;
5. Gunicorn reloaded (HUP) and a Celery worker restarted.

After each, it waits until every accepted task is SUCCESS (read from Redis): what is not, is
lost. Ran twice: the task history in PostgreSQL (late acks mean at least once).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from rich.console import Console

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
from workshop.launcher.processes import alive
from workshop.notebooks import available
from workshop.probe import queue_depth
from workshop.registry import Step
from workshop.scratch import fresh_database
from workshop.settings import DEFAULT_REDIS_URL, Settings, endpoint, safe_url, scheme
from workshop.tcp_proxy import TcpProxy
from workshop.waiting import done_at, finished, wait_until

TIMING = Timing(outage=3.0, tail=1.5, drain=30.0, quick=5.0)
# Tasks of 0.3 s, so that a scenario drains in seconds; three clients, each a POST and a GET
# every 0.35 s: about 8 tasks/s, below what 4 pool processes run.
WORKLOAD = Workload(
    submit="/api/process_data",
    body={"seconds": 0.3},
    id_field="task_id",
    status="/api/tasks/{id}",
    clients=3,
    pace=0.35,
)
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
TABLE = [
    Column(COLUMNS[0], lambda tally: tally.name),
    Column(COLUMNS[1], lambda tally: str(len(tally.accepted))),
    Column(COLUMNS[2], lambda tally: str(len(tally.finished))),
    Column(COLUMNS[3], lambda tally: count(tally.lost)),
    Column(COLUMNS[4], lambda tally: str(tally.duplicated)),
    Column(COLUMNS[5], recovery_cell),
    Column(COLUMNS[6], answers_503),
    Column(COLUMNS[7], failed_requests),
]
NOTES = (
    "503: quick JSON answers while a server is down, and the slowest (expected in 3 and 4, "
    f"a failure elsewhere). Failed: any other 5xx, an answer slower than {TIMING.quick:g} s "
    "(a hang), a connection error. Ran twice: runs > 1 in the task history (late acks "
    "mean at least once)."
)


class RelayedStep(FaultyStack):
    """Step 2, its broker and result backend behind relays this command cuts and restores."""

    timing = TIMING

    def __init__(self, step: Step, run_dir: Path, broker: str, backend: str, database: str):
        self.redis = TcpProxy(endpoint(backend)).start()
        super().__init__(
            step,
            run_dir,
            broker,
            backend,
            CELERY_RESULT_BACKEND=relayed(backend, self.redis.port),
            DATABASE_URL=database,
            GUNICORN_WORKERS="2",  # two cores: the load generator needs one too
        )
        self.database = database

    def relays(self) -> list[TcpProxy]:
        return [self.rabbit, self.redis]

    def settle(self, tally: Tally) -> None:
        """Until every accepted task is SUCCESS in the result backend and the queue is empty,
        or `drain` seconds: what is not SUCCESS by then is lost."""
        deadline = time.monotonic() + self.timing.drain
        pending = [task_id for task_id in tally.accepted if task_id not in tally.ended]
        for task_id, result in finished(self.celery, pending, self.timing.drain).items():
            if result.state == "SUCCESS":
                tally.ended[task_id] = done_at(result)
        with contextlib.suppress(TimeoutError):  # a queue that never empties: tally.lost says
            wait_until(
                lambda: not queue_depth(self.broker, {}, self.queue),
                max(0.0, deadline - time.monotonic()),
                interval=0.2,
                what="an empty queue",
            )

    def after_all(self) -> None:
        """Tasks the history says ran more than once (`runs` > 1), per scenario."""
        query = sql.SQL("SELECT task_id FROM {} WHERE runs > 1").format(
            sql.Identifier(self.step.history)
        )
        with psycopg.connect(self.database, connect_timeout=5) as connection:
            twice = {row[0] for row in connection.execute(query)}
        for tally in self.tallies:
            tally.duplicated = len(twice & tally.accepted.keys())

    def forget(self) -> None:
        for tally in self.tallies:  # results would stay a day in Redis
            for task_id in tally.accepted:
                self.celery.backend.forget(task_id)


def sigkill_pool_process(stack: RelayedStep, load: Load, tally: Tally) -> None:
    """A pool process dies mid-task: its worker rejects the message (reject on worker lost),
    RabbitMQ delivers it again, and the worker starts a new pool process."""
    main = psutil.Process(stack.pid("worker2"))
    busy = wait_until(lambda: stack.busy_pool_processes("worker2"), 10, what="worker2 busy")
    pool = main.children()
    os.kill(busy[0], signal.SIGKILL)
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], stack.timing.tail)
    wait_until(lambda: len(alive(main.children())) >= len(pool), 10, what="a new pool process")


def reload_web_and_restart_worker(stack: RelayedStep, load: Load, tally: Tally) -> None:
    """Gunicorn's HUP starts new workers and lets the old ones finish their requests;
    supervisorctl restart gives worker2 a warm shutdown: it finishes its tasks first."""
    stack.supervisorctl("signal", "HUP", "gunicorn")
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], stack.timing.tail)
    stack.supervisorctl("restart", "worker2")
    tally.faults.append(time.time())
    load.accepting_after(tally.faults[-1], stack.timing.tail)


SCENARIOS = [
    Scenario("1. worker SIGKILLed", False, sigkill_worker("worker1")),
    Scenario("2. pool process SIGKILLed", False, sigkill_pool_process),
    Scenario(f"3. RabbitMQ down {TIMING.outage:g} s", True, outage(lambda stack: stack.rabbit)),
    Scenario(f"4. Redis down {TIMING.outage:g} s", True, outage(lambda stack: stack.redis)),
    Scenario("5. Gunicorn HUP, worker restart", False, reload_web_and_restart_worker),
]
PLAN = Plan("Faults under load: nothing accepted may be lost", SCENARIOS, WORKLOAD, TABLE, (NOTES,))


def missing(step: Step, backend: str) -> list[str]:
    """What this machine lacks for the run, one line each with its fix."""
    needed = [*step.needs, "rabbitmq", "redis", "postgresql"]
    lines = [f"✗ {why}" for present, why in map(available, needed) if not present]
    if scheme(backend) != "redis":
        lines.append(f"✗ CELERY_RESULT_BACKEND={safe_url(backend)}: this run needs Redis")
    return lines


def faults(step: Step, console: Console) -> int:
    """`make faults` for step 2: its stack on a database of its own, dropped afterwards."""
    settings = Settings()
    broker, database = settings.celery_broker_url, settings.database_url
    backend = settings.celery_result_backend or DEFAULT_REDIS_URL

    @contextlib.contextmanager
    def stack_in(run_dir: Path) -> Iterator[RelayedStep]:
        with fresh_database(database, prefix="workshop_faults") as url:
            yield RelayedStep(step, run_dir, broker, backend, url)

    return command(step, console, missing(step, backend), stack_in, PLAN)
