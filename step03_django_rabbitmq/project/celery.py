"""The Celery app of the Django project, as Celery's "First steps with Django" sets it up.

celery -A step03_django_rabbitmq.project worker --loglevel=INFO
"""

import os

from celery import Celery
from celery.signals import celeryd_init, worker_ready
from django.conf import settings
from kombu import Queue

# Where Django's settings are, for a worker started with `celery -A ...` (manage.py sets it too).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "step03_django_rabbitmq.project.settings")

app = Celery("project")

# Read every Django setting whose name starts with CELERY_: CELERY_BROKER_URL is broker_url.
# A string, so a worker's child processes need not pickle the configuration.
app.config_from_object("django.conf:settings", namespace="CELERY")
if settings.CELERY_RESULT_BACKEND == "django-db":
    # django-celery-results' backend, made to wait for the database when it is away for a
    # moment (project/results.py).
    app.backend_cls = "step03_django_rabbitmq.project.results:WaitingDatabaseBackend"

# Find tasks.py in every app of INSTALLED_APPS (here: articles/tasks.py).
app.autodiscover_tasks()


@celeryd_init.connect
def publish_patiently(conf, **kwargs) -> None:
    """In the worker only. The worker publishes too: a chord and its fetches, a retry, the
    chord's callback. With the web's quick retries (settings.py: a 503 within a second),
    RabbitMQ away for a few seconds fails a scrape whose work is done. The worker tries ten
    times, up to 2 s apart, about 17 s in all (README, section 11)."""
    conf.task_publish_retry_policy = {
        "max_retries": 10,
        "interval_start": 0,
        "interval_step": 1,
        "interval_max": 2,
    }


@worker_ready.connect
def declare_dead_letter_queues(sender, **kwargs) -> None:
    """RabbitMQ drops a dead letter whose queue does not exist: declare each queue that the
    task queues send theirs to (settings.py: the quorum queue's "<queue>.dead")."""
    with sender.app.connection_for_write() as connection:
        for queue in sender.app.amqp.queues.values():
            dead = (queue.queue_arguments or {}).get("x-dead-letter-routing-key")
            if dead:
                Queue(dead, queue_arguments={"x-queue-type": "quorum"})(connection).declare()
