"""Settings of the step-1 app, read from the environment (see .env.example)."""

from workshop.celery_defaults import RELIABILITY
from workshop.settings import Settings, celery_services, print_banner


def load_config() -> dict:
    settings = Settings()
    # RabbitMQ and Redis when they answer; otherwise the embedded default, with a banner.
    services = celery_services()
    print_banner(services)
    return {
        # Simulated work of one task, when the request does not say.
        "TASK_SECONDS": settings.task_seconds,
        # A bigger request body is refused with 413 before the view runs.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "SERVICES": services,
        "CELERY": {
            **RELIABILITY,
            **services.celery_config(),
            # Tests give every run its own queue; people use Celery's default one.
            "task_default_queue": settings.celery_task_default_queue,
        },
    }
