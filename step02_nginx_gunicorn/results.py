"""Step 2 keeps task results in PostgreSQL, through Celery's SQLAlchemy result backend.

Step 1's app reads CELERY_RESULT_BACKEND like every step; step 2 only changes its default.
"""

import os

from workshop.settings import Settings


def use_postgresql_by_default() -> str:
    """Point CELERY_RESULT_BACKEND at DATABASE_URL (with the psycopg driver) unless it is set."""
    settings = Settings()
    database = settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    backend = settings.celery_result_backend or f"db+{database}"
    os.environ["CELERY_RESULT_BACKEND"] = backend  # what Celery and every later step read
    return backend


def pool_connections(backend) -> None:
    """Let Celery's SQL result backend keep a connection pool in this process.

    Celery pools database connections only in the pool processes it forks itself; anywhere
    else (a Gunicorn worker, a script) it opens a new connection for every call, about 7 ms
    each here. A Gunicorn worker lives as long as a Celery pool process, so it should pool too.
    """
    manager = getattr(backend, "session_manager", None)
    if manager is not None:
        manager._after_fork()  # what Celery itself calls in the processes it forks


def web_session_options(celery_app) -> None:
    """The web process writes only the PENDING record of each task: let PostgreSQL confirm that
    write before it reaches the disk (synchronous_commit=off, for this process's sessions).

    A database crash could forget a PENDING record written in the last fraction of a second;
    the message itself is safe in RabbitMQ, and the worker's STARTED/SUCCESS writes stay fully
    durable. In exchange, no request waits for a disk flush.
    """
    if celery_app.conf.result_backend.startswith("db+postgresql"):
        options = dict(celery_app.conf.database_engine_options or {})
        options["connect_args"] = {"options": "-c synchronous_commit=off"}
        celery_app.conf.database_engine_options = options
