"""The fixed app: a Flask application factory with Celery as an extension.

Run it with a worker: ``make step01``
(the web part alone: ``flask --app step01_flask_celery.app run --port 8000``).
"""

from flask import Flask

from step01_flask_celery.app.celery_app import celery_init_app
from step01_flask_celery.app.config import load_config
from step01_flask_celery.app.errors import register_error_handlers
from step01_flask_celery.app.views import api


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__)

    # Settings come from the environment: the same code runs on a laptop, in CI, in a container.
    # FLASK_-prefixed variables come last (FLASK_CELERY__task_acks_late=false: one Celery setting).
    app.config.from_mapping(load_config())
    app.config.from_prefixed_env()
    app.config.from_mapping(overrides or {})

    # Celery becomes an extension of this app: built from app.config, stored in app.extensions.
    # The tasks module never imports this file, which is what breaks the cycle.
    celery_init_app(app)

    # An API client gets JSON for every error, never an HTML page or a traceback. Nor an HTML
    # redirect: /api/tasks/<id>/ and //api answer like /api/tasks/<id> and /api.
    register_error_handlers(app)
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False

    app.register_blueprint(api)
    return app
