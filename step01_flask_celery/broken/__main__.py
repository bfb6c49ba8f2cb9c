"""Start the broken app the way a learner would; the import fails before any server starts."""

from step01_flask_celery.broken.flask_app import create_app

create_app().run(port=8000)
