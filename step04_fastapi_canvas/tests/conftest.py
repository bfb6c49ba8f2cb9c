"""Step 4's own tests: its tasks run by a real Celery worker, in a thread of the test process,
through RabbitMQ and Redis, on two queues of the tests' own.

    .venv/bin/pytest step04_fastapi_canvas/tests        (from the top of the repository)

Celery's pytest plugin (celery.contrib.pytest) gives the fixtures: celery_config (settings for
the tests), celery_app (the app) and celery_worker (a worker, started for one test).
"""

import os
import uuid

import pytest

# The step reads its settings once, when it is imported, so they are set first. Queues of the
# tests' own: a worker of `make step04` would take tasks sent to "default".
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"test-{uuid.uuid4().hex[:12]}"
os.environ["TASK_DELAY_SCALE"] = "0"  # instant tasks (add takes 20 s x this)

from step04_fastapi_canvas.celery_app import celery_app as step04_app  # noqa: E402

pytest_plugins = ("celery.contrib.pytest",)


@pytest.fixture(scope="session")
def celery_config():
    return {
        # As Celery's own test app (celery/contrib/testing/app.py): no broker heartbeats (with
        # them, a worker started again in the same process took up to 5 s to see a task; about
        # 1 s without), and pytest keeps the logs.
        "broker_heartbeat": 0,
        "worker_hijack_root_logger": False,
        "result_expires": 600,  # the tests' results leave Redis after 10 minutes
    }


@pytest.fixture
def celery_app(celery_config):
    # The plugin's own celery_app is a new, empty app, and its worker runs only the tasks
    # registered on it. Step 4's tasks are registered on step 4's app (@celery_app.task).
    step04_app.conf.update(celery_config)
    return step04_app


@pytest.fixture(scope="session")
def celery_includes():
    # celery.ping: the task celery_worker sends to its new worker, to know that it is up.
    return ["celery.contrib.testing.tasks"]


@pytest.fixture
def celery_worker_parameters(celery_app):
    # Both queues, as `celery worker -Q default,default-sum` (supervisord.conf) consumes.
    default = celery_app.conf.task_default_queue
    return {"queues": [default, f"{default}-sum"]}


@pytest.fixture(scope="session", autouse=True)
def queues_deleted_afterwards():
    with step04_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)  # no broker: say so now, not in a minute
    yield
    with step04_app.connection_for_write() as connection:
        for queue in step04_app.amqp.queues:
            connection.default_channel.queue_delete(queue)
