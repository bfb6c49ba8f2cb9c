"""Settings of the step-1 app, read from the environment (see .env.example)."""

import os

from workshop.celery_defaults import RELIABILITY
from workshop.settings import celery_services, print_banner


def load_config() -> dict:
    # RabbitMQ and Redis when they answer; otherwise the embedded default, with a banner.
    services = celery_services()
    print_banner(services)
    return {
        # Simulated work of one task, when the request does not say.
        "TASK_SECONDS": float(os.environ.get("TASK_SECONDS", "3")),
        # A bigger request body is refused with 413 before the view runs.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "SERVICES": services,
        "CELERY": {
            **RELIABILITY,
            **services.celery_config(),
            # Tests give every run its own queue; people use Celery's default one.
            "task_default_queue": os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery"),
        },
    }
