"""POST /workflows/{kind}: validated bodies, right results, failures inside a workflow,
unknown ids, cancelling, progress, routing, and a group saved and restored."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from celery.result import AsyncResult, GroupResult

from step04_fastapi_canvas import workflows
from step04_fastapi_canvas.celery_app import celery_app
from tests.step04.conftest import wait_for
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "redis")


def submit(client, kind: str, **body) -> dict:
    answer = client.post(f"/workflows/{kind}", json={"a": 3, "b": 4, **body})
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"/workflows/{answer.json()['workflow_id']}"
    return answer.json()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("solo", 7),
        ("chain", [21, 28]),
        ("group", [7, 12]),
        ("chord", {"results": [7, 12], "total": 19}),
    ],
)
def test_each_workflow_gives_its_result(client, kind, expected):
    submitted = submit(client, kind)
    done = wait_for(client, submitted["result_url"]).json()
    assert done.get("results" if kind == "group" else "result") == expected
    graph = client.get(f"/workflows/{submitted['workflow_id']}").json()
    assert graph["finished"] and {n["state"] for n in graph["states"].values()} == {"SUCCESS"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"a": "three", "b": 4}, "must be a JSON number, not a string"),
        ({"a": "3", "b": 4}, "must be a JSON number, not a string"),
        ({"a": 3.5, "b": 4}, "Input should be a valid integer"),
        ({"a": 3, "b": 10**9}, "less than or equal to 1000000"),
        ({"a": 3}, "Field required"),
        ({"a": 3, "b": 4, "fail": "maybe"}, "valid boolean"),
        ({"a": 3, "b": 4, "fail": 0}, "valid boolean"),
        ({"a": 3, "b": 4, "sorce": 1}, "Extra inputs are not permitted"),
        ({"a": 3, "b": 4, "task": "divide"}, "'add' or 'multiply'"),
    ],
)
def test_a_bad_body_gets_422_with_a_clear_message(client, body, problem):
    answer = client.post("/workflows/chord", json=body)
    assert answer.status_code == 422
    assert problem in str(answer.json()["detail"])


def test_an_unknown_workflow_kind_is_405_and_a_body_that_is_not_json_422(client):
    # POST /workflows/fan-out: no such workflow; GET /workflows/{id} is the only other route.
    assert client.post("/workflows/fan-out", json={"a": 1, "b": 2}).status_code == 405
    answer = client.post(
        "/workflows/chain", content="{json}", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and "JSON decode error" in str(answer.json()["detail"])


def test_ids_never_submitted_are_404_never_pending(client):
    unknown = str(uuid.uuid4())
    for path in (f"/result/{unknown}", f"/result/group/{unknown}", f"/workflows/{unknown}"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.json()["detail"], path
    assert client.delete(f"/tasks/{unknown}").status_code == 404


def test_a_failed_link_stops_the_chain(client):
    submitted = submit(client, "chain", fail=True)
    done = wait_for(client, submitted["result_url"])
    assert done.status_code == 500  # the chain's id is its last task: failed with the first
    assert done.json()["error"] == "FailedOnPurpose: add failed on purpose (fail=true)"
    states = client.get(f"/workflows/{submitted['workflow_id']}").json()["states"]
    first, last = (states[node["id"]] for node in submitted["nodes"])
    assert (first["state"], last["state"]) == ("FAILURE", "NOT RUN")
    assert "started_at" in first and "started_at" not in last


def test_a_failed_header_task_fails_the_chord_callback_it_never_hangs(client):
    submitted = submit(client, "chord", fail=True)
    done = wait_for(client, submitted["result_url"])
    assert done.status_code == 500
    assert done.json()["error"].startswith("ChordError: ")
    assert "multiply failed on purpose" in done.json()["error"]
    group = wait_for(client, f"/result/group/{submitted['group_id']}")
    assert group.status_code == 500 and group.json()["completed"] == 2


def test_the_long_task_reports_its_progress(client):
    submitted = submit(client, "solo")
    seen = []

    def finished():
        body = client.get(submitted["result_url"]).json()
        seen.append(body)
        return body["state"] == "SUCCESS"

    wait_until(finished, 30, interval=0.05, what="add done")
    progress = [body["progress"] for body in seen if body["state"] == "PROGRESS"]
    assert progress and all(p["total"] == 10 and 1 <= p["done"] <= 10 for p in progress)


def test_the_sum_tasks_go_to_the_sum_queue(client, stack):
    submitted = submit(client, "chain")
    wait_for(client, submitted["result_url"])
    for node in submitted["nodes"]:  # add and sum_multiply; result_extended stores the queue
        meta = AsyncResult(node["id"], app=celery_app)._get_task_meta()
        assert meta["queue"] == f"{stack.queue}-sum"
    multiply = submit(client, "solo", task="multiply")
    wait_for(client, multiply["result_url"])
    meta = AsyncResult(multiply["task_id"], app=celery_app)._get_task_meta()
    assert meta["queue"] == stack.queue


def test_a_group_is_saved_so_it_can_be_restored_by_its_id(client):
    submitted = submit(client, "group")
    restored = GroupResult.restore(submitted["group_id"], app=celery_app)
    assert [child.id for child in restored.results] == [n["id"] for n in submitted["nodes"]]
    assert GroupResult.restore(str(uuid.uuid4()), app=celery_app) is None  # so: 404


def test_cancelling_a_running_task_and_a_queued_one(client):
    running = submit(client, "solo")  # add: 2 s in PROGRESS steps
    wait_until(
        lambda: client.get(running["result_url"]).json()["state"] == "PROGRESS",
        10,
        interval=0.05,
        what="add running",
    )
    answer = client.delete(f"/tasks/{running['task_id']}")
    assert answer.status_code == 202 and answer.json()["was"] == "PROGRESS"
    # Two adds keep both pool processes busy; the third waits in the queue.
    busy = [submit(client, "solo") for _ in range(2)]
    queued = submit(client, "solo")
    assert client.delete(f"/tasks/{queued['task_id']}").status_code == 202
    for revoked in (running, queued):
        done = wait_for(client, revoked["result_url"])
        assert done.status_code == 200 and done.json()["state"] == "REVOKED"
    for other in busy:
        assert wait_for(client, other["result_url"]).json()["result"] == 7
    assert client.delete(f"/tasks/{busy[0]['task_id']}").status_code == 409  # already done


def test_cancelling_right_after_submitting_wins_the_race(client):
    # The worker may take the task before the DELETE reads its state: it is killed anyway.
    submitted = [submit(client, "solo") for _ in range(3)]
    for each in submitted:
        assert client.delete(f"/tasks/{each['task_id']}").status_code == 202
    for each in submitted:
        assert wait_for(client, each["result_url"]).json()["state"] == "REVOKED"


def test_cancelling_a_chains_first_link_finishes_the_chain_as_revoked(client):
    submitted = submit(client, "chain")
    first, last = (node["id"] for node in submitted["nodes"])
    answer = client.delete(f"/tasks/{first}")
    assert answer.json()["also_revoked"] == [last]
    done = wait_for(client, submitted["result_url"])  # the chain's id: its last link
    assert done.status_code == 200 and done.json()["state"] == "REVOKED"
    # The last link's REVOKED can be stored before the worker stores the first link's.
    graph = f"/workflows/{submitted['workflow_id']}"
    wait_until(lambda: client.get(graph).json()["finished"], 15, what="the whole chain finished")


def test_a_group_with_a_revoked_task_says_so(client):
    submitted = submit(client, "group")
    client.delete(f"/tasks/{submitted['nodes'][0]['id']}")  # add: 2 s, still running
    done = wait_for(client, f"/result/group/{submitted['group_id']}")
    assert done.status_code == 200 and done.json()["state"] == "REVOKED"
    assert done.json()["error"].startswith("TaskRevokedError")


@pytest.mark.parametrize(
    "body",
    [b'{"a": NaN, "b": 1}', b'{"a": 1, "b": 2, "fail": Infinity}', b'{"a": 1e400, "b": 2}'],
)
def test_numbers_json_cannot_carry_get_422_not_500(client, body):
    answer = client.post(
        "/workflows/solo", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and "input" not in answer.text


def test_a_body_over_64_kb_gets_413(client):
    big = b'{"a": 1, "b": 2, "x": "' + b"y" * 70_000 + b'"}'
    answer = client.post(
        "/workflows/solo", content=big, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413


def test_internal_records_are_not_tasks(client):
    submitted = submit(client, "chain")
    wait_for(client, submitted["result_url"])
    for record in (f"canvas-{submitted['workflow_id']}", f"started-{submitted['task_id']}"):
        assert client.get(f"/result/{record}").status_code == 404
        assert client.delete(f"/tasks/{record}").status_code == 404


def test_the_web_process_follows_no_result_it_reads():
    # A GroupResult makes Celery's Redis backend subscribe to each task for good (celery#6963);
    # the web process's backend follows nothing (step04_fastapi_canvas/backends.py).
    from step04_fastapi_canvas import main  # noqa: F401 (sets the web's backend)

    seen = {}

    def in_a_request_thread():  # Celery makes one backend per thread, when first asked
        backend = celery_app.backend
        for kind in ("group", "chord"):
            workflows.build(kind, 1, 2, False)
        GroupResult.restore(str(uuid.uuid4()), app=celery_app)
        pending = backend._pending_results
        seen.update(kind=type(backend).__name__, followed=len(pending.concrete) + len(pending.weak))

    thread = threading.Thread(target=in_a_request_thread)
    thread.start()
    thread.join(timeout=30)
    assert seen == {"kind": "ReadOnlyRedisBackend", "followed": 0}


def test_a_body_nested_thousands_deep_gets_a_json_400(client):
    deep = b"[" * 30_000 + b"]" * 30_000
    answer = client.post(
        "/workflows/solo", content=deep, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400 and answer.json()["detail"]


def test_the_recent_list_has_every_workflow_submitted_here_the_newest_first(client):
    # As the lesson's curl submits them: plain POSTs, not the canvas page's form.
    solo = submit(client, "solo", task="multiply")
    chord = submit(client, "chord")
    answer = client.get("/workflows")
    assert answer.status_code == 200 and answer.json()["keeps"] == workflows.RECENT == 20
    listed = answer.json()["workflows"]
    assert len(listed) <= 20
    ids = [each["workflow_id"] for each in listed]
    assert ids.index(chord["workflow_id"]) < ids.index(solo["workflow_id"])
    assert listed[ids.index(chord["workflow_id"])]["tasks"] == [
        "add(3, 4)",
        "multiply(3, 4)",
        "combine(results)",
    ]
    first = listed[ids.index(solo["workflow_id"])]
    assert first["kind"] == "solo" and first["tasks"] == ["multiply(3, 4)"]
    assert abs(first["submitted_at"] - time.time()) < 60
    # Any spelling of a UUID finds it; the answer gives it as it was given out.
    shown = client.get(f"/workflows/{chord['workflow_id'].upper()}")
    assert shown.status_code == 200 and shown.json()["id"] == chord["workflow_id"]


def test_the_recent_list_keeps_the_last_20_and_expires_with_the_results(monkeypatch):
    # Against Redis itself, under a key of the test's own: no task is published.
    key = f"canvas-recent-test-{uuid.uuid4()}"
    monkeypatch.setattr(workflows, "recent_key", lambda: key)
    redis = celery_app.backend.client
    try:
        ids = [str(uuid.uuid4()) for _ in range(25)]
        for each in ids:
            workflows.remember(each)
        assert [each for each, _ in workflows.recorded()] == ids[::-1][:20]
        assert 0 < redis.ttl(key) <= celery_app.conf.result_expires
        assert workflows.recent() == []  # their graphs were never stored: nothing to show
    finally:
        redis.delete(key)


@pytest.mark.parametrize("path", ["/workflows/not-an-id", "/workflows/12345/events"])
def test_a_malformed_workflow_id_is_a_json_400_that_says_what_an_id_looks_like(client, path):
    answer = client.get(path)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert "is not a workflow id: one looks like" in answer.json()["detail"]


def test_get_on_a_submit_path_is_405_not_a_bad_id(client):
    answer = client.get("/workflows/chord")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert "POST /workflows/chord submits one" in answer.json()["detail"]
