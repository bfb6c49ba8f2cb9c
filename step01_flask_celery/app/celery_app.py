"""Celery as a Flask extension, the pattern of the Flask documentation."""

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        # Every task body runs inside the app context, so current_app and app.config work there.
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    # @shared_task binds to the default app: this one.
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
