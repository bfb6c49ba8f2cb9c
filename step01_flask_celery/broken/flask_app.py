"""Application factory that registers a blueprint (step 1 of the cycle)."""

from flask import Flask

from step01_flask_celery.broken.views import api


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["CELERY_BROKER_URL"] = "amqp://guest:guest@localhost:5672//"
    app.register_blueprint(api)
    return app
