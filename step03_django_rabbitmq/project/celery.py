"""The Celery app of the Django project, as Celery's "First steps with Django" sets it up.

celery -A step03_django_rabbitmq.project worker --loglevel=INFO
"""

import os

from celery import Celery

# Where Django's settings are, for a worker started with `celery -A ...` (manage.py sets it too).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "step03_django_rabbitmq.project.settings")

app = Celery("project")

# Read every Django setting whose name starts with CELERY_: CELERY_BROKER_URL is broker_url.
# A string, so a worker's child processes need not pickle the configuration.
app.config_from_object("django.conf:settings", namespace="CELERY")

# Find tasks.py in every app of INSTALLED_APPS (here: articles/tasks.py).
app.autodiscover_tasks()
