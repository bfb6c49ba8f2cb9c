"""Reliability settings that every step's Celery app starts from.

Each line is explained in step01_flask_celery/README.md ("Reliability defaults").
Use it as ``Celery(...).conf.update(RELIABILITY)`` or merge it into a settings dict.
WORKER_RESULT_RETRY is for worker processes only (step02_nginx_gunicorn/README.md, "Faults").
"""

RELIABILITY = {
    # JSON only: a worker never unpickles bytes that came over the network.
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    # Acknowledge after the task ran, and give the message back if the worker process dies:
    # the tasks of this workshop are safe to run twice, so nothing accepted is lost.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    # If the broker connection drops, stop the tasks whose messages will be delivered again,
    # so that they do not run twice at the same time (Celery 6 makes this the default).
    "worker_cancel_long_running_tasks_on_connection_loss": True,
    # With late acks, a worker takes one message at a time and the others stay for its peers.
    "worker_prefetch_multiplier": 1,
    # Report STARTED, so a client can tell "queued" from "running".
    "task_track_started": True,
    # A worker started before the broker keeps trying instead of exiting.
    "broker_connection_retry_on_startup": True,
    # A web request must not hang on a dead broker: connect quickly, retry briefly, then fail
    # (the web view turns the failure into a 503 answer).
    "broker_connection_timeout": 2,
    "task_publish_retry": True,
    "task_publish_retry_policy": {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
    # The same for the result backend (Redis): two quick tries, not twenty.
    "redis_socket_connect_timeout": 2,
    "redis_socket_timeout": 5,
    "result_backend_transport_options": {
        "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
    },
    # No task runs forever: a soft limit raises inside the task, the hard limit kills it.
    "task_soft_time_limit": 45,
    "task_time_limit": 60,
    # Results are kept for a day, then cleaned up.
    "result_expires": 24 * 3600,
    # Store the task name and arguments with the result (useful in the lesson and Flower).
    "result_extended": True,
}

# Worker processes only: a result write that fails because the result backend is down waits
# and tries again (at most a second apart), up to the task's time limit. Without it, the task's
# first PROGRESS write raises, its FAILURE cannot be stored either, and its message is
# acknowledged all the same: accepted, never finished, STARTED forever. A web process must
# not wait like this (it answers 503 at once), so this is not part of RELIABILITY.
WORKER_RESULT_RETRY = {
    "result_backend_always_retry": True,
    "result_backend_max_sleep_between_retries_ms": 1000,
}
