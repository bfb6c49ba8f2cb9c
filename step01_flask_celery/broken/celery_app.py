"""Celery is built from a Flask app's config, so this imports the factory (step 4: the cycle).

Python is still executing flask_app.py (it stopped at its first import), so the name
create_app does not exist yet: ImportError, "partially initialized module".
"""

from celery import Celery

from step01_flask_celery.broken.flask_app import create_app

flask_app = create_app()
celery = Celery(flask_app.import_name, broker=flask_app.config["CELERY_BROKER_URL"])
