"""The seed's endpoints answer as its README says, so that its curl commands work unchanged."""

from __future__ import annotations

import re

import pytest

from tests.step04.conftest import wait_for

pytestmark = pytest.mark.needs("rabbitmq", "redis")


def test_the_index_answers(client):
    answer = client.get("/")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_solo_add_publishes_and_its_result_comes(client):
    body = client.get("/solo/add").json()
    a, b = map(
        int,
        re.fullmatch(
            r"FastAPI : a=(\d+), b=(\d+) Published to the queue", body["message"]
        ).groups(),
    )
    first = client.get(f"/result/{body['task_id']}")
    assert first.status_code == 202 and first.json()["state"] in ("PENDING", "STARTED", "PROGRESS")
    done = wait_for(client, f"/result/{body['task_id']}")
    assert done.status_code == 200 and done.json()["result"] == a + b


def test_solo_chain_gives_each_number_times_the_sum(client):
    body = client.get("/solo/chain").json()
    assert body["message"] == "Chain task result" and body["status_code"] == 200
    done = wait_for(client, f"/result/{body['task_id']}").json()
    assert done["state"] == "SUCCESS"
    first, second = done["result"]
    total = (first + second) ** 0.5  # a*s + b*s = s*s
    assert first % total == 0 and second % total == 0


def test_solo_group_lists_its_tasks_and_the_url_of_its_result(client):
    body = client.get("/solo/group").json()
    a, b = map(
        int, re.fullmatch(r"Group task submitted : a = (\d+), b = (\d+)", body["message"]).groups()
    )
    assert body["check_result_url"] == f"/result/group/{body['group_id']}"
    assert len(body["individual_tasks"]) == 2
    done = wait_for(client, body["check_result_url"]).json()
    assert done["state"] == "SUCCESS" and done["results"] == [a + b, a * b]
    each = [
        wait_for(client, f"/result/{task_id}").json()["result"]
        for task_id in body["individual_tasks"]
    ]
    assert each == [a + b, a * b]  # every child is reachable by its own id too
