"""Celery's configuration for step 4: RabbitMQ as the broker, Redis for the results.

Redis, because its chords keep their own count: as each header task finishes, one atomic step
in Redis stores its result and counts it, and the last one starts the callback. Backends
without that poll (celery.chord_unlock re-runs every second until the group is ready), and the
RPC backend cannot run chords at all.
"""

from kombu import Queue

from step04_fastapi_canvas.settings import get_settings

settings = get_settings()

broker_url = settings.celery_broker_url
result_backend = settings.celery_result_backend
if broker_url.startswith("filesystem://"):
    # The embedded default (no server): kombu keeps each message as a file in this folder.
    (settings.celery_broker_folder / "messages").mkdir(parents=True, exist_ok=True)
    broker_transport_options = {
        "data_folder_in": str(settings.celery_broker_folder / "messages"),
        "data_folder_out": str(settings.celery_broker_folder / "messages"),
        "control_folder": str(settings.celery_broker_folder / "control"),
        "polling_interval": 0.1,
    }

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

# Reliability, the same as step 1's (its README.md, "Reliability defaults", says why).
task_serializer = result_serializer = "json"
accept_content = ["json"]  # a worker never unpickles what came over the network
task_acks_late = task_reject_on_worker_lost = True  # a worker that dies loses no message
worker_cancel_long_running_tasks_on_connection_loss = True
worker_prefetch_multiplier = 1
task_track_started = True
broker_connection_retry_on_startup = True
# The web answers 503 at once when a server is down: quick connects, two quick retries.
broker_connection_timeout = 2
task_publish_retry = True
task_publish_retry_policy = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
redis_socket_connect_timeout, redis_socket_timeout = 2, 5
result_backend_transport_options = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
}
# When Redis is away for a moment (restarted, paused, a network blink), the worker waits and
# tries again instead of failing the task: every result write and read (a task's result, its
# PROGRESS, a saved group), up to 30 times, 0.2 s after the first failure, then about twice as
# long each time, at most 2 s between two tries (each pause a random part of that): about 27 s
# in all on average, 55 s at most, under the tasks' time limits. A chord whose header task
# failed to store its result would fail (or wait for ever): README, "When a server blinks".
# The web process does not wait: it answers 503 at once (backends.py).
result_backend_always_retry = True
result_backend_max_retries = 30
result_backend_base_sleep_between_retries_ms = 100
result_backend_max_sleep_between_retries_ms = 2000
# add takes 20 s x TASK_DELAY_SCALE (2 at most, settings.py): 40 s, 5 s under the soft limit.
task_soft_time_limit, task_time_limit = 45, 60

# A saved GroupResult (and every task result) expires after this: then restore() gives None.
result_expires = 24 * 3600
result_extended = True
# Send task events (Flower shows them).
worker_send_task_events = True
task_send_sent_event = True
