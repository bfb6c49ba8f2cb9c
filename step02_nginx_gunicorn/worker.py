"""Celery workers of step 2: step 1's app, unchanged, with tracing.

``celery -A step02_nginx_gunicorn.worker worker --hostname=worker1@%h``
"""

import logging

from celery.signals import task_prerun, worker_process_init

from step01_flask_celery.app import create_app
from step02_nginx_gunicorn import results, tracing

results.use_postgresql_by_default()
flask_app = create_app()
celery_app = flask_app.extensions["celery"]

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


@task_prerun.connect
def log_request_id(task_id, task, **kwargs):
    # The trace id travels in the AMQP headers (traceparent); it is Nginx's request id.
    traceparent = task.request.get("traceparent") or "00-none-"
    log.info(
        "task %s request_id=%s on %s", task_id, traceparent.split("-")[1], task.request.hostname
    )
