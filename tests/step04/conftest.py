"""Step 4 started the way a learner starts it (`python -m workshop run step04`, what `make
step04` runs): Uvicorn and a Celery worker under supervisord, on free ports, RabbitMQ as the
broker and Redis for the results, with its own queues; then Ctrl-C."""

from __future__ import annotations

import httpx
import pytest

from tests.support.launched import LaunchedStep, launched
from tests.support.services import require
from tests.support.tasks import wait_for

NEEDS = ("rabbitmq", "redis")
SCALE = 0.1  # add takes 2 s, multiply 0.2 s


class Stack04(LaunchedStep):
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url(), timeout=10)


__all__ = ["Stack04", "wait_for"]  # the tests import wait_for from here


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    require(*NEEDS)
    step = Stack04("step04", tmp_path_factory.mktemp("step04"), TASK_DELAY_SCALE=str(SCALE))
    with launched(step):
        yield step


@pytest.fixture
def client(stack):
    with stack.client() as http:
        yield http
