"""The WSGI entry point: `gunicorn step03_django_rabbitmq.project.wsgi` (the container path)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "step03_django_rabbitmq.project.settings")

application = get_wsgi_application()
