"""Tasks are decorated with the Celery instance, so this imports it (step 3 of the cycle)."""

from step01_flask_celery.broken.celery_app import celery


@celery.task
def process_data():
    return "done"
