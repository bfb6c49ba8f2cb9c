"""Celery workers of step 2: step 1's app, unchanged, with tracing and the task history.

``celery -A step02_nginx_gunicorn.worker worker --hostname=worker1@%h``
"""

import logging

from celery.signals import task_postrun, task_prerun, worker_process_init

from step01_flask_celery.app import create_app
from step02_nginx_gunicorn import history, tracing

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
WORKER_SETTINGS = {
    # Redis down for a moment: a result write waits and tries again, as in step 1's worker.py.
    "result_backend_always_retry": True,
    "result_backend_max_sleep_between_retries_ms": 1000,
    # A task that leaks grows its pool process task after task: the pool replaces a process
    # after 1000 tasks, or after a task that took it past 200,000 KiB (one uses 80 to 90 MB).
    "worker_max_tasks_per_child": 1000,
    "worker_max_memory_per_child": 200_000,
}
# Step 1's settings come last, so a FLASK_CELERY__ variable still wins over these
# (FLASK_CELERY__worker_max_tasks_per_child=10 make step02).
celery_app.conf.update({**WORKER_SETTINGS, **flask_app.config["CELERY"]})

log = logging.getLogger("step02.worker")


@worker_process_init.connect
def start_tracing(**kwargs):
    # Each pool process is a fork: give it its own exporter thread, then instrument Celery.
    if not tracing.enabled():
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    tracing.setup("celery-worker")
    tracing.trace_result_stores(celery_app.backend)
    CeleryInstrumentor().instrument()


def request_id(task) -> str | None:
    # The trace id travels in the AMQP headers (traceparent); it is Nginx's request id.
    traceparent = task.request.get("traceparent")
    return traceparent.split("-")[1] if traceparent else None


@task_prerun.connect
def log_request_id(task_id, task, **kwargs):
    history.started(task_id)
    log.info("task %s request_id=%s on %s", task_id, request_id(task) or "-", task.request.hostname)


@task_postrun.connect
def write_history(task_id, task, state, **kwargs):
    # After the result is in Redis: the durable row in PostgreSQL (history.py).
    # No state: the task was interrupted (its message goes back to the queue); say so.
    history.finished(
        task_id, task.name, state or "INTERRUPTED", task.request.hostname, request_id(task)
    )
