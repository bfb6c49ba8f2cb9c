"""The Django project of step 3: settings, URLs, and the Celery app.

The two lines below are the lesson's first trap: they import the Celery app whenever Django
starts, so that every @shared_task binds to THIS app, configured from settings.py. Without
them, `shared_task` falls back to Celery's default app: broker amqp://guest@localhost//, no
result backend, and every CELERY_ setting ignored, without a single error.
`python -m step03_django_rabbitmq.which_app --without-reexport` shows it.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
