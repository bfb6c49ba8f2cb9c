"""One step-2 stack for every test of this folder: `python -m workshop run step02` (what
`make step02` runs) with real nginx, Gunicorn, two Celery workers and Flower under supervisord,
on free ports, RabbitMQ as the broker and PostgreSQL as the result backend. Ctrl-C at the end
must leave no process behind."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.launched import LaunchedStep, launched
from tests.support.services import require
from tests.support.tasks import submit, wait_for_task
from workshop.probe import ping_workers
from workshop.settings import Settings
from workshop.waiting import wait_until

NEEDS = ("rabbitmq", "postgresql", "nginx")


class Stack02(LaunchedStep):
    @property
    def nginx(self) -> str:
        return self.url("nginx")

    @property
    def gunicorn(self) -> str:
        return self.url("gunicorn")

    def submit(self, client: httpx.Client, seconds: float = 0.0) -> str:
        return submit(client, {"seconds": seconds})

    def wait_done(self, client: httpx.Client, task_id: str, timeout: float = 30) -> dict:
        return wait_for_task(client, task_id, timeout)

    def workers(self) -> list[str]:
        prefix, host = self.env["WORKER_PREFIX"], socket.gethostname()
        return [f"{prefix}worker1@{host}", f"{prefix}worker2@{host}"]

    def wait_for_both_workers(self, timeout: float) -> None:
        """Until this stack's worker1 and worker2 both answer ping."""
        broker, both = Settings().celery_broker_url, self.workers()
        wait_until(
            lambda: set(both) <= set(ping_workers(broker, {}, 1, only=both)),
            timeout,
            what="both workers answering ping",
        )

    def workers_not_consuming(self):
        """Both workers stop taking messages from the step's queue, and take them again
        afterwards: accepted tasks wait as if no worker ran."""
        return self.not_consuming()


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    require(*NEEDS)  # before starting anything: a missing server skips (or fails in CI)
    run_dir = tmp_path_factory.mktemp("step02")
    step = Stack02("step02", run_dir, GUNICORN_WORKERS="2", FLOWER_BASIC_AUTH="tester:s3cret")
    with launched(step):
        yield step
