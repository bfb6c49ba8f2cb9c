"""Worker entry point: ``celery -A step01_flask_celery.worker worker --loglevel=INFO``."""

from step01_flask_celery.app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
# Redis down for a moment: a result write waits and tries again (a second apart at most, up to
# the time limit), so the task does not end unrecorded. Workers only: the web answers 503 at once.
celery_app.conf.update(
    result_backend_always_retry=True, result_backend_max_sleep_between_retries_ms=1000
)
