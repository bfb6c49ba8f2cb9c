"""How many messages a step-1 worker holds (README, section 6), counted by RabbitMQ itself.

A worker with two pool processes takes concurrency × worker_prefetch_multiplier = 2 × 1
messages; with late acks a running task keeps its message, so a third task waits in the queue.
A task with a countdown is held on top of those two until its time comes.
"""

from __future__ import annotations

import sys
from contextlib import suppress
from urllib.parse import quote

import httpx
import pytest
from kombu import Connection

from tests.support.processes import Process
from workshop.probe import celery_client
from workshop.settings import ROOT
from workshop.waiting import wait_until

PROCESS_DATA = "step01_flask_celery.app.tasks.process_data"
# Long enough that every task still runs (and holds its message) while RabbitMQ's statistics,
# refreshed every few seconds, catch up; the workers are killed at the end: nobody waits.
TASK_SECONDS = 30


def queue_counts(broker_url: str, queue: str) -> tuple[int | None, int | None]:
    """(ready, unacknowledged) of a queue, from RabbitMQ's management API."""
    broker = Connection(broker_url)  # only read for its host, user and virtual host
    vhost = quote(broker.virtual_host, safe="")
    url = f"http://{broker.hostname}:15672/api/queues/{vhost}/{queue}"
    info = httpx.get(url, auth=(broker.userid, broker.password), timeout=5).json()
    return info.get("messages_ready"), info.get("messages_unacknowledged")


@pytest.mark.needs("rabbitmq", "redis", "rabbitmq-management")
def test_a_worker_holds_one_message_per_pool_process_and_a_countdown_task_on_top(stacks, tmp_path):
    # Two workers started at once, each with two pool processes and a queue of its own.
    workers = {}
    for name in ("plain", "countdown"):
        env, _, queue = stacks.env("services")
        args = [
            *(sys.executable, "-m", "celery", "-A", "step01_flask_celery.worker", "worker"),
            *("--loglevel=INFO", "--concurrency=2", f"--hostname={queue}@%h"),
            *("--without-gossip", "--without-mingle"),
        ]
        logs = tmp_path / name
        logs.mkdir()
        workers[name] = (env, queue, Process("worker", args, logs, env, ROOT))
    try:
        for _, _, worker in workers.values():
            worker.wait_for_log("ready.", timeout=60)

        env, _, _ = workers["plain"]
        with celery_client(env) as client:
            for _ in range(3):
                client.send_task(PROCESS_DATA, args=({}, TASK_SECONDS))
        env, _, _ = workers["countdown"]
        with celery_client(env) as client:
            # First, while the worker has room: a countdown task sent to a full worker waits
            # in the queue like any other message.
            client.send_task(PROCESS_DATA, args=({}, 0), countdown=120)
            for _ in range(3):
                client.send_task(PROCESS_DATA, args=({}, TASK_SECONDS))

        expected = {"plain": (1, 2), "countdown": (1, 3)}  # (ready, unacknowledged)
        seen = {}

        def counted() -> bool:
            for name, (env, queue, _) in workers.items():
                seen[name] = queue_counts(env["CELERY_BROKER_URL"], queue)
            return seen == expected

        with suppress(TimeoutError):  # the assertion below says what was seen instead
            wait_until(counted, TASK_SECONDS - 5, interval=0.5, what="the expected counts")
        assert seen == expected, (
            f"(ready, unacknowledged) per queue: {seen}, expected {expected}. A worker with "
            "--concurrency=2 and worker_prefetch_multiplier=1 holds 2 messages (3 with a "
            "countdown task); the third task stays ready in the queue"
        )
    finally:
        for _, _, worker in workers.values():
            worker.kill()
