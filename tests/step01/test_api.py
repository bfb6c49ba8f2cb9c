"""The task API contract of step 1, with the Flask test client.

These tests need no server: the app runs on the embedded default (filesystem broker, SQLite
results), and no worker runs, so a submitted task stays queued. Where a test needs a later
state it writes that state into the real result backend, exactly as a worker would.
"""

import time

import pytest
import sqlalchemy
from celery import states

from step01_flask_celery.app import create_app
from workshop.environment import environment
from workshop.launcher import create_result_tables
from workshop.probe import free_port
from workshop.steps import STEPS


@pytest.fixture
def app(monkeypatch, tmp_path):
    # What `make step01` gives its processes on the embedded default.
    given = {"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path)}
    for name, value in environment(STEPS["step01"], given).variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TASK_SECONDS", "0.5")
    create_result_tables(f"db+sqlite:///{tmp_path / 'results.sqlite'}")
    return create_app()


@pytest.fixture
def client(app):
    return app.test_client()


def backend(app):
    return app.extensions["celery"].backend


def submit(client, body=None):
    answer = client.post("/api/process_data", json=body if body is not None else {"seconds": 1})
    assert answer.status_code == 202, answer.json
    return answer.json["task_id"]


def assert_json_error(answer, status: int, *words: str) -> None:
    assert answer.status_code == status
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert set(body) == {"error", "message"}
    assert "Traceback" not in answer.get_data(as_text=True)
    for word in words:
        assert word in body["message"]


def test_submit_answers_202_with_task_id_status_url_and_location(client):
    answer = client.post("/api/process_data", json={"seconds": 2, "note": "hello"})
    assert answer.status_code == 202
    body = answer.json
    assert set(body) == {"task_id", "status_url"}
    assert body["status_url"].endswith(f"/api/tasks/{body['task_id']}")
    assert answer.headers["Location"] == body["status_url"]


def test_an_empty_body_uses_the_default_seconds(client):
    answer = client.post("/api/process_data")
    assert answer.status_code == 202


def test_a_queued_task_is_pending_and_an_unknown_id_is_404(client):
    task_id = submit(client)
    queued = client.get(f"/api/tasks/{task_id}")
    assert queued.status_code == 202
    assert queued.json == {"task_id": task_id, "state": "PENDING"}
    assert queued.headers["Retry-After"] == "1"

    unknown = client.get("/api/tasks/5d1c5a52-0d7a-4a53-9a58-d2c4f2a1c0de")
    assert_json_error(unknown, 404, "was ever submitted")


def test_the_published_message_carries_the_arguments(app, client, tmp_path):
    submit(client, {"seconds": 1.5, "fail": False, "x": 1})
    messages = list((tmp_path / "broker" / "messages").glob("*.msg"))
    assert len(messages) == 1
    text = messages[0].read_text()
    assert "step01_flask_celery.app.tasks.process_data" in text


@pytest.mark.parametrize(
    ("state", "meta", "status", "extra"),
    [
        (states.STARTED, {"pid": 1}, 202, {}),
        (
            "PROGRESS",
            {"percent": 50, "done": 2, "total": 4},
            202,
            {"progress": {"percent": 50, "done": 2, "total": 4}},
        ),
        (states.SUCCESS, {"worker": "worker1@host"}, 200, {"result": {"worker": "worker1@host"}}),
        (
            states.FAILURE,
            ValueError("bad data"),
            200,
            {"error": {"type": "ValueError", "message": "bad data"}},
        ),
    ],
)
def test_each_state_has_its_status_code(app, client, state, meta, status, extra):
    task_id = submit(client)
    backend(app).store_result(task_id, meta, state)
    answer = client.get(f"/api/tasks/{task_id}")
    assert answer.status_code == status
    assert answer.json == {"task_id": task_id, "state": state, **extra}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("{json}", ["not valid JSON", "line 1 column 2"]),
        ("{'seconds': 1}", ["not valid JSON"]),
        ("[1, 2]", ["JSON object", "not an array"]),
        ('"text"', ["JSON object", "not a string"]),
        ("null", ["JSON object", "not null"]),
        ("42", ["JSON object", "not a number"]),
        ('{"seconds": "2"}', ['"seconds" must be a number from 0 to 30']),
        ('{"seconds": true}', ['"seconds" must be a number']),
        ('{"seconds": -1}', ['"seconds" must be a number']),
        ('{"seconds": 31}', ['"seconds" must be a number']),
        ('{"seconds": NaN}', ['"seconds" must be a number']),
        ('{"seconds": 1e999}', ['"seconds" must be a number']),
        ('{"seconds": 1' + "0" * 400 + "}", ['"seconds" must be a number']),
        ('{"fail": "yes"}', ['"fail" must be true or false']),
        (b"\xff\xfe\x00", ["not valid JSON"]),
    ],
)
def test_bad_bodies_get_a_clear_400(client, body, words):
    answer = client.post(
        "/api/process_data", data=body, headers={"Content-Type": "application/json"}
    )
    assert_json_error(answer, 400, *words)


def test_a_body_over_the_limit_gets_413(client):
    answer = client.post(
        "/api/process_data",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert_json_error(answer, 413, "1048576 bytes")


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("PUT", "/api/process_data", "POST"),
        ("GET", "/api/process_data", "POST"),
        ("DELETE", "/api/tasks/abc", "GET"),
    ],
)
def test_a_wrong_method_gets_405_with_allow(client, method, url, allowed):
    answer = client.open(url, method=method)
    assert_json_error(answer, 405, allowed)
    assert allowed in answer.headers["Allow"]


def test_an_unknown_url_gets_a_json_404(client):
    assert_json_error(client.get("/nope"), 404, "GET / lists the endpoints")


def test_health_says_the_embedded_default_is_in_use(client, tmp_path):
    body = client.get("/health").json
    assert body["status"] == "ok" and body["embedded"] is True
    assert body["broker"] == {"url": "filesystem:///", "embedded": True, "reachable": True}
    assert body["result_backend"]["url"].endswith("results.sqlite")


def test_a_dead_broker_gives_a_quick_503_and_queues_nothing(app, monkeypatch, tmp_path):
    # Celery prefers CELERY_BROKER_URL in the environment to its configuration: set it there.
    monkeypatch.setenv("CELERY_BROKER_URL", f"amqp://guest:secret@127.0.0.1:{free_port()}//")
    client = create_app().test_client()
    started = time.monotonic()
    answer = client.post("/api/process_data", json={"seconds": 1})
    assert time.monotonic() - started < 3
    assert_json_error(answer, 503, "broker", "127.0.0.1", "Nothing was queued")
    assert "secret" not in answer.get_data(as_text=True)
    assert answer.headers["Retry-After"]
    # The id recorded before publishing was forgotten: no task row is left behind.
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'results.sqlite'}")
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("select count(*) from celery_taskmeta"))
        assert rows.scalar() == 0


def test_health_is_503_degraded_when_a_server_does_not_answer(app, monkeypatch):
    monkeypatch.setenv("CELERY_RESULT_BACKEND", f"redis://127.0.0.1:{free_port()}/0")
    answer = create_app().test_client().get("/health")
    assert answer.status_code == 503
    assert answer.json["status"] == "degraded"
    assert answer.json["result_backend"]["reachable"] is False
    assert answer.json["broker"]["reachable"] is True


def test_a_dead_result_backend_gives_a_quick_503(app, monkeypatch):
    monkeypatch.setenv("CELERY_RESULT_BACKEND", f"redis://127.0.0.1:{free_port()}/0")
    client = create_app().test_client()
    started = time.monotonic()
    assert_json_error(client.post("/api/process_data", json={}), 503, "result backend")
    assert_json_error(client.get("/api/tasks/abc"), 503, "result backend")
    assert time.monotonic() - started < 3


def test_an_unexpected_error_is_a_json_500_without_details(app, client, monkeypatch):
    from step01_flask_celery.app import tasks

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(tasks.process_data, "apply_async", explode)
    answer = client.post("/api/process_data", json={})
    assert_json_error(answer, 500, "server log")
    assert "secret internals" not in answer.get_data(as_text=True)
