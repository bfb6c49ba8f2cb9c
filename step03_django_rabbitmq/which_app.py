"""Which Celery app do the tasks use? The lesson's first trap, shown in one command.

    .venv/bin/python -m step03_django_rabbitmq.which_app
    .venv/bin/python -m step03_django_rabbitmq.which_app --without-reexport

The second one loads the project package WITHOUT running project/__init__.py, as if its two
lines (`from .celery import app as celery_app`) were missing: @shared_task then binds to
Celery's default app, which has read none of the CELERY_ settings.
"""

import argparse
import os
import sys
import types
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--without-reexport", action="store_true", help="as if project/__init__.py were empty"
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "step03_django_rabbitmq.project.settings")
    if args.without_reexport:
        package = types.ModuleType("step03_django_rabbitmq.project")
        package.__path__ = [str(Path(__file__).resolve().parent / "project")]
        sys.modules[package.__name__] = package  # imported, but its __init__.py never ran

    import django

    django.setup()
    from django.conf import settings
    from kombu import Connection

    from step03_django_rabbitmq.articles.tasks import scrape

    app = scrape.app
    with app.connection_for_write() as connection:
        broker = connection.as_uri()
    print(f"the task scrape is bound to the Celery app {app.main!r}")
    print(f"  broker:         {broker}")
    print(f"  result backend: {app.conf.result_backend or 'none (results are not stored)'}")
    print(f"  default queue:  {app.conf.task_default_queue}")
    # Django's fixup gives the project's tasks apply_async_on_commit (publish.py uses it);
    # Celery's default app has no fixup: its tasks are plain ones.
    on_commit = "yes" if hasattr(scrape, "apply_async_on_commit") else "no"
    print(f"  apply_async_on_commit: {on_commit}")
    print("settings.py says:")
    # Written the way kombu writes the app's, so that the two lines compare.
    print(f"  broker:         {Connection(settings.CELERY_BROKER_URL).as_uri()}")
    print(f"  result backend: {settings.CELERY_RESULT_BACKEND}")
    print(f"  default queue:  {settings.CELERY_TASK_DEFAULT_QUEUE}")


if __name__ == "__main__":
    main()
