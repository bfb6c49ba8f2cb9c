"""A broker that dies under step 4: a quick JSON 503 and nothing recorded as queued; a
workflow accepted once it is back. (A TCP relay is cut, not the shared RabbitMQ.)"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.step04.conftest import Stack04, wait_for
from tests.support.launched import launched
from tests.support.services import require
from workshop.tcp_proxy import TcpProxy
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "redis")


@contextmanager
def behind_a_relay(folder: Path, server: tuple[str, int], variable: str, url: str):
    """Step 4, its tasks instant, with one of its servers (`variable`, `url` with {port}) reached
    through a relay: the relay and a client, for the block; then Ctrl-C, and the relay cut."""
    require("rabbitmq", "redis")
    relay = TcpProxy(server).start()
    step = Stack04(
        "step04", folder, TASK_DELAY_SCALE="0", **{variable: url.format(port=relay.port)}
    )
    try:
        with launched(step), step.client() as client:
            yield relay, client
    finally:
        relay.cut()


def test_a_dead_broker_gives_a_quick_503_and_the_service_comes_back(tmp_path_factory):
    folder, url = tmp_path_factory.mktemp("faults"), "amqp://guest:guest@127.0.0.1:{port}//"
    with behind_a_relay(folder, ("127.0.0.1", 5672), "CELERY_BROKER_URL", url) as (rabbit, client):
        rabbit.cut()
        started = time.monotonic()
        answer = client.post("/workflows/chain", json={"a": 3, "b": 4})
        elapsed = time.monotonic() - started
        assert answer.status_code == 503 and elapsed < 5, (answer.text, elapsed)
        assert answer.json()["detail"].startswith("The broker is not reachable")
        seed = client.get("/solo/add")
        assert seed.status_code == 503 and "detail" in seed.json()

        rabbit.restore()  # the broker is back, on the same address

        def accepted() -> dict | None:
            again = client.post("/workflows/chain", json={"a": 3, "b": 4})
            return again.json() if again.status_code == 202 else None

        submitted = wait_until(accepted, 30, what="a 202 once the broker is back")
        assert wait_for(client, submitted["result_url"], 60).json()["result"] == [21, 28]


def test_a_dead_result_backend_gives_quick_503s(tmp_path_factory):
    folder, url = tmp_path_factory.mktemp("redis-down"), "redis://127.0.0.1:{port}/0"
    with behind_a_relay(folder, ("127.0.0.1", 6379), "CELERY_RESULT_BACKEND", url) as (
        redis_relay,
        client,
    ):
        done = client.post("/workflows/group", json={"a": 3, "b": 4}).json()
        assert wait_for(client, done["result_url"], 30).json()["results"] == [7, 12]
        redis_relay.cut()
        for method, path in (
            ("POST", "/workflows/group"),
            ("POST", "/workflows/chord"),
            ("GET", "/solo/group"),
            ("GET", done["result_url"]),
        ):
            started = time.monotonic()
            answer = client.request(method, path, json={"a": 3, "b": 4})
            elapsed = time.monotonic() - started
            assert answer.status_code == 503 and elapsed < 10, (path, answer.text, elapsed)
            assert "result backend is not reachable" in answer.json()["detail"]
