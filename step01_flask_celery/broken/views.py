"""The blueprint sends a task, so it imports the tasks module (step 2 of the cycle)."""

from flask import Blueprint

from step01_flask_celery.broken.tasks import process_data

api = Blueprint("api", __name__)


@api.post("/api/process_data")
def submit():
    return {"task_id": process_data.delay().id}, 202
