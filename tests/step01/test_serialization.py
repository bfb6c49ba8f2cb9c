"""What JSON cannot carry (README, section 7), with step 1's own app, task and settings.

An argument kombu's JSON cannot encode stops delay() with EncodeError, and nothing is queued.
A datetime is one it can: the worker gets a datetime. A result it cannot encode ends the task
in FAILURE, although its work was done.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime

import pytest
from kombu import Connection
from kombu.exceptions import EncodeError

from step01_flask_celery.app import create_app
from step01_flask_celery.app.tasks import process_data
from tests.support.processes import Process
from workshop.probe import celery_client
from workshop.settings import ROOT

SET_RESULT_WORKER = "tests.step01.set_result_worker"


@dataclass
class Customer:
    id: int
    name: str


def step01_app(monkeypatch, env: dict[str, str]):
    """Step 1's Flask app in this process, on the servers and the queue of `env`."""
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_TASK_DEFAULT_QUEUE"):
        monkeypatch.setenv(name, env[name])
    return create_app()


def ready_messages(broker_url: str, queue: str) -> int:
    """How many messages wait in the queue, as RabbitMQ says at once (no statistics delay)."""
    with Connection(broker_url, connect_timeout=5) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


@pytest.mark.needs("rabbitmq", "redis")
def test_an_argument_json_cannot_carry_stops_delay_and_nothing_is_queued(stacks, monkeypatch):
    env, _, queue = stacks.env("services")  # no worker reads this queue
    step01_app(monkeypatch, env)

    with pytest.raises(EncodeError, match="Object of type Customer is not JSON serializable"):
        process_data.delay({"customer": Customer(42, "Ada")}, 1)
    # The fix: the id, a plain value. A datetime is fine too: kombu's JSON encodes it.
    process_data.delay({"customer_id": 42, "since": datetime(2026, 12, 2, 9, 30)}, 1)

    assert ready_messages(env["CELERY_BROKER_URL"], queue) == 1, (
        "only the second task should be in the queue: the first one never left delay()"
    )


@pytest.mark.needs("rabbitmq", "redis")
def test_a_datetime_reaches_the_worker_and_a_set_result_ends_in_failure(
    stacks, monkeypatch, tmp_path
):
    stack = stacks.start("services", worker=False)
    args = [
        *(sys.executable, "-m", "celery", "-A", SET_RESULT_WORKER, "worker", "--loglevel=INFO"),
        *("--concurrency=1", f"--hostname={stack.worker_name}", "--without-gossip"),
        "--without-mingle",
    ]
    logs = tmp_path / "set-result-worker"
    logs.mkdir()
    worker = stack.processes["worker"] = Process("worker", args, logs, stack.env, ROOT)
    worker.wait_for_log(f"{stack.worker_name} ready.", timeout=60)

    step01_app(monkeypatch, stack.env)
    since = datetime(2026, 12, 2, 9, 30)
    sent = process_data.delay({"customer_id": 42, "since": since}, 0)
    assert sent.get(timeout=30)["keys"] == ["customer_id", "since"]
    # result_extended stores the arguments the worker ran with: a datetime, not a string.
    assert sent.args == [{"customer_id": 42, "since": since}, 0]

    with celery_client(stack.env) as client:
        task_id = client.send_task(f"{SET_RESULT_WORKER}.tags").id
    body = stack.wait_for_task(task_id)
    assert body["state"] == "FAILURE", body
    assert body["error"] == {
        "type": "EncodeError",
        "message": "TypeError('Object of type set is not JSON serializable')",
    }
    worker.wait_for_log(
        f"{SET_RESULT_WORKER}.tags[{task_id}] raised unexpected: EncodeError(", timeout=10
    )
