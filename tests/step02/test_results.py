"""results.py, the web process's result backend: each new task's PENDING record is written with
one Redis command, and the API still tells a queued task from an id never submitted."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from workshop.environment import VENV_BIN, env_with_venv

# Runs in a process of its own: wsgi.py changes Celery's Redis backend for its whole process.
SCRIPT = """
import json, redis
from kombu import Connection
sent = []
send = redis.Redis.execute_command
def execute_command(self, *args, **options):
    sent.append([part.decode() if isinstance(part, bytes) else str(part) for part in args])
    return send(self, *args, **options)
redis.Redis.execute_command = execute_command
redis.client.Pipeline.execute = lambda self, *a, **k: sent.append(["PIPELINE"]) or []

from step02_nginx_gunicorn.wsgi import app, celery_app
client = app.test_client()
posted = client.post("/api/process_data", json={"seconds": 0}, headers={"Host": "localhost"})
task_id = posted.get_json()["task_id"]
key = "celery-task-meta-" + task_id
written = [command for command in sent if key in command[1:2] or command == ["PIPELINE"]]
state = client.get(f"/api/tasks/{task_id}", headers={"Host": "localhost"})
unknown = client.get("/api/tasks/never-" + task_id, headers={"Host": "localhost"})
with Connection(celery_app.conf.broker_url) as connection:
    connection.default_channel.queue_delete(celery_app.conf.task_default_queue)
celery_app.backend.client.delete(key)
print(json.dumps({"posted": posted.status_code, "written": written,
                  "state": [state.status_code, state.get_json()["state"]],
                  "unknown": unknown.status_code}))
"""


@pytest.mark.needs("rabbitmq", "redis")
def test_a_pending_record_is_one_setex_and_still_tells_queued_from_unknown():
    env = env_with_venv(
        {
            "OTEL_SDK_DISABLED": "true",
            "CELERY_BROKER_URL": "amqp://guest:guest@localhost:5672//",
            "CELERY_RESULT_BACKEND": "redis://localhost:6379/0",
            "CELERY_TASK_DEFAULT_QUEUE": f"t-results-{uuid.uuid4().hex[:8]}",
        }
    )
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["posted"] == 202
    # Celery's own store_result would send GET, then a MULTI/SETEX/PUBLISH/EXEC pipeline.
    [(command, written_key, record, *options)] = found["written"]
    assert command == "SET" and options == ["EX", "86400"]  # result_expires: a day
    assert json.loads(record)["status"] == "PENDING"
    assert found["state"] == [202, "PENDING"] and found["unknown"] == 404
