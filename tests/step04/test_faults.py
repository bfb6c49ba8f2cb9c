"""Step 4 when a server is away: a quick JSON 503 and nothing recorded as queued, a workflow
accepted once it is back; and `make faults STEP=step04` shortened: chords under load while the
worker dies, RabbitMQ is away, and Redis is away, paused or restarted: no chord failed,
stranded or lost.

One stack for the whole module: its results on a Redis of its own (a scenario restarts it,
another pauses it), RabbitMQ and that Redis behind relays that the tests cut (never the shared
servers)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.step04.conftest import wait_for
from tests.support import faults
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq")


@pytest.fixture(scope="module")
def chords(tmp_path_factory):
    """Step 4 with its results on a Redis of its own, behind relays; add takes 1 s."""
    run_dir = tmp_path_factory.mktemp("chords")
    with faults.chord_stack("step04", run_dir, TASK_DELAY_SCALE="0.05") as stack:
        yield stack


@pytest.fixture
def client(chords):
    with httpx.Client(base_url=chords.url(), timeout=10) as http:
        yield http


def test_a_dead_broker_gives_a_quick_503_and_the_service_comes_back(chords, client):
    chords.rabbit.cut()
    try:
        started = time.monotonic()
        answer = client.post("/workflows/chain", json={"a": 3, "b": 4})
        elapsed = time.monotonic() - started
        assert answer.status_code == 503 and elapsed < 5, (answer.text, elapsed)
        assert answer.json()["detail"].startswith("The broker is not reachable")
        seed = client.get("/solo/add")
        assert seed.status_code == 503 and "detail" in seed.json()
    finally:
        chords.rabbit.restore()  # the broker is back, on the same address

    def accepted() -> dict | None:
        again = client.post("/workflows/chain", json={"a": 3, "b": 4})
        return again.json() if again.status_code == 202 else None

    submitted = wait_until(accepted, 30, what="a 202 once the broker is back")
    assert wait_for(client, submitted["result_url"], 60).json()["result"] == [21, 28]


def test_a_dead_result_backend_gives_quick_503s(chords, client):
    done = client.post("/workflows/group", json={"a": 3, "b": 4}).json()
    assert wait_for(client, done["result_url"], 30).json()["results"] == [7, 12]
    chords.store_relay.cut()
    try:
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
        chords.store_relay.restore()


# Every scenario in one test, each a subtest: pytest-xdist cannot send them to two pytest
# processes, and the stack starts once for them.
@pytest.mark.timeout(300)
def test_a_server_that_blinks_delays_a_chord_never_fails_it(chords, subtests):
    for scenario in faults.scenarios("step04"):
        with subtests.test(msg=scenario.name):
            tally, printed = faults.run(chords, scenario)
            faults.assert_nothing_lost(chords, tally, printed)
            if "down" in scenario.name:  # the outage was seen: quick 503s meanwhile
                assert tally.requests["503"], printed
