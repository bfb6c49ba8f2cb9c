"""Celery's configuration for step 4: RabbitMQ as the broker, Redis for the results.

Redis, because its chords keep their own count: as each header task finishes, one atomic step
in Redis stores its result and counts it, and the last one starts the callback. Backends
without that poll (celery.chord_unlock re-runs every second until the group is ready), and the
RPC backend cannot run chords at all.
"""

from kombu import Queue

from step04_fastapi_canvas.settings import get_settings
from workshop.celery_defaults import RELIABILITY
from workshop.settings import DEFAULT_REDIS_URL, celery_services

settings = get_settings()
services = celery_services(default_backend=DEFAULT_REDIS_URL)

globals().update(RELIABILITY)  # JSON only, late acks, time limits... (workshop/celery_defaults.py)
broker_url = services.broker.url
result_backend = services.backend.url
broker_transport_options = services.celery_config().get("broker_transport_options", {})

# Two queues, as in the seed: the sum tasks go to "<default>-sum"; a worker consumes both.
task_default_queue = settings.celery_task_default_queue
SUM_QUEUE = f"{task_default_queue}-sum"
# Each queue bound with its own name as routing key (a Queue without one borrows the default).
task_queues = [
    Queue(task_default_queue, routing_key=task_default_queue),
    Queue(SUM_QUEUE, routing_key=SUM_QUEUE),
]
task_routes = {
    "step04_fastapi_canvas.tasks.arithmetic.add": {"queue": SUM_QUEUE},
    "step04_fastapi_canvas.tasks.arithmetic.sum_multiply": {"queue": SUM_QUEUE},
}

# A saved GroupResult (and every task result) expires after this: then restore() gives None.
result_expires = 24 * 3600
# Send task events (Flower shows them).
worker_send_task_events = True
task_send_sent_event = True
