"""Worker entry point: ``celery -A step01_flask_celery.worker worker --loglevel=INFO``."""

from step01_flask_celery.app import create_app
from workshop.celery_defaults import WORKER_RESULT_RETRY

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
# Redis down for a moment: the task waits to store its state, it does not fail unrecorded.
celery_app.conf.update(WORKER_RESULT_RETRY)
