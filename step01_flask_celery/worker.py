"""Worker entry point: ``celery -A step01_flask_celery.worker worker --loglevel=INFO``."""

from step01_flask_celery.app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
