"""Which exceptions mean "a service is down", and the message a client gets for them."""

import redis.exceptions
import sqlalchemy.exc
from kombu.exceptions import OperationalError

from workshop.settings import safe_url

# Raised when the broker (kombu) or a result backend (Redis, SQL) cannot be reached.
SERVICE_ERRORS = (
    OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
    ConnectionError,
)


def unavailable_message(celery_app, error: Exception, method: str = "GET") -> str:
    """Name the service that failed and its URL, so the fix is obvious."""
    if isinstance(error, OperationalError):
        what = f"The broker at {safe_url(celery_app.conf.broker_url)}"
    elif isinstance(error, redis.exceptions.RedisError | sqlalchemy.exc.SQLAlchemyError):
        what = f"The result backend at {safe_url(celery_app.conf.result_backend)}"
    else:
        what = f"A service ({type(error).__name__})"
    queued = " Nothing was queued." if method == "POST" else ""
    return f"{what} did not answer.{queued} Try again later; `make doctor` shows what is down."
