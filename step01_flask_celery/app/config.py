"""Settings of the step-1 app, read from the environment.

Each variable has a default that fits RabbitMQ and Redis on their usual local ports, so
`flask --app step01_flask_celery.app run` works on its own. `make step01` sets them (`make env
STEP=step01` prints how), and `create_app()` then reads any FLASK_ variable on top, the Flask
way: FLASK_CELERY__task_acks_late=false changes one Celery setting.
"""

import os
from pathlib import Path


def load_config() -> dict:
    broker_url = os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//")
    return {
        # Simulated work of one task, when the request does not say.
        "TASK_SECONDS": task_seconds(os.environ.get("TASK_SECONDS", "3")),
        # A bigger request body is refused with 413 before the view runs.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # The Host headers it answers (views.py); another gets a 400, so that a link it builds
        # (the status_url) never points to a host an attacker chose.
        # FLASK_ALLOWED_HOSTS='["localhost", "myhost"]' replaces the list.
        "ALLOWED_HOSTS": ["localhost", "127.0.0.1"],
        "CELERY": {
            "broker_url": broker_url,
            "result_backend": os.environ.get("CELERY_RESULT_BACKEND", "redis://localhost:6379/0"),
            "broker_transport_options": folders(broker_url),
            # Tests give every run its own queue; people use Celery's default one.
            "task_default_queue": os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery"),
            **RELIABILITY,
        },
    }


# Why each line is here: README.md, "Reliability defaults". Steps 3 and 4 spell out the same.
RELIABILITY = {
    # JSON only: a worker never unpickles bytes that came over the network.
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    # Acknowledge after the task ran; give the message back if the process running it dies.
    # These tasks are safe to run twice, so nothing accepted is lost.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    # A lost broker connection stops the tasks whose messages will come again (Celery 6's
    # default), so that two copies never run at once.
    "worker_cancel_long_running_tasks_on_connection_loss": True,
    # A worker reserves concurrency × 1 messages, one per pool process: with late acks a running
    # task keeps its message, so the rest stay in the queue for other workers. A task with a
    # countdown or an ETA is held on top of those (README.md, section 6).
    "worker_prefetch_multiplier": 1,
    # STARTED is reported: a client tells "queued" from "running".
    "task_track_started": True,
    # A worker started before the broker keeps trying instead of exiting.
    "broker_connection_retry_on_startup": True,
    # A web request never hangs on a dead broker: two quick retries, then an error (a 503).
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
    # No task runs forever: the soft limit raises inside the task, the hard one kills it.
    "task_soft_time_limit": 45,
    "task_time_limit": 60,
    # Results are kept a day; the task name and arguments are stored with them.
    "result_expires": 24 * 3600,
    "result_extended": True,
}


def task_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 30:
        raise ValueError(f"TASK_SECONDS must be a number from 0 to 30, not {text!r}.")
    return seconds


def folders(broker_url: str) -> dict:
    """The embedded default's broker (no server): kombu keeps each message as a file there."""
    if not broker_url.startswith("filesystem://"):
        return {}
    root = Path(os.environ.get("CELERY_BROKER_FOLDER", ".run/broker"))
    (root / "messages").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(root / "messages"),
        "data_folder_out": str(root / "messages"),
        "control_folder": str(root / "control"),
        "polling_interval": 0.1,  # kombu looks at the folder this often (seconds)
    }
