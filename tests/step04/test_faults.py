"""A broker that dies under step 4: a quick JSON 503 and nothing recorded as queued; a
workflow accepted once it is back. (A TCP relay is cut, not the shared RabbitMQ.)"""

from __future__ import annotations

import time

import pytest

from tests.step04.conftest import Stack04, wait_for
from tests.support.launched import launched
from tests.support.services import require
from workshop.tcp_proxy import TcpProxy
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "redis")


def test_a_dead_broker_gives_a_quick_503_and_the_service_comes_back(tmp_path_factory):
    require("rabbitmq", "redis")
    rabbit = TcpProxy(("127.0.0.1", 5672)).start()
    port = rabbit.port
    step = Stack04(
        "step04",
        tmp_path_factory.mktemp("faults"),
        CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{port}//",
        TASK_DELAY_SCALE="0",
    )
    try:
        with launched(step), step.client() as client:
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
    finally:
        rabbit.cut()


def test_a_dead_result_backend_gives_quick_503s(tmp_path_factory):
    require("rabbitmq", "redis")
    redis_relay = TcpProxy(("127.0.0.1", 6379)).start()
    step = Stack04(
        "step04",
        tmp_path_factory.mktemp("redis-down"),
        CELERY_RESULT_BACKEND=f"redis://127.0.0.1:{redis_relay.port}/0",
        TASK_DELAY_SCALE="0",
    )
    try:
        with launched(step), step.client() as client:
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
    finally:
        redis_relay.cut()
