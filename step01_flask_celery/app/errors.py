"""Every error becomes a JSON answer with a clear message."""

import logging

import redis.exceptions
import sqlalchemy.exc
from flask import Flask, jsonify, request
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# The broker (kombu) or the result backend (Redis, SQL) did not answer.
SERVICE_ERRORS = (
    OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
    ConnectionError,
)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # 400, 404, 405, 413...: keep the status, answer JSON instead of Werkzeug's HTML page.
        body = {"error": error.name, "message": _message(app, error)}
        return jsonify(body), error.code, _allow_header(error)

    def service_down(error: Exception):
        # The broker or the result backend is down: say so at once, do not hang, do not 500.
        log.warning("service unavailable: %r", error)
        body = {
            "error": "Service Unavailable",
            "message": unavailable(app.extensions["celery"].conf, error, request.method),
        }
        return jsonify(body), 503, {"Retry-After": "5"}

    for error_class in SERVICE_ERRORS:
        app.register_error_handler(error_class, service_down)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # The traceback goes to the log for the developer, never to the client.
        log.exception("unhandled error")
        body = {"error": "Internal Server Error", "message": "unexpected error, see the server log"}
        return jsonify(body), 500


def _message(app: Flask, error: HTTPException) -> str:
    if error.description != type(error).description:
        return error.description  # a view wrote its own message with abort(code, description=...)
    if error.code == 413:
        return f"The body is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes."
    if error.code == 405:
        allowed = sorted(set(error.valid_methods or []) - {"HEAD", "OPTIONS"})
        return f"Use {', '.join(allowed)} on this URL."
    if error.code == 404:
        return "No such URL. GET / lists the endpoints."
    return error.description


def _allow_header(error: HTTPException) -> dict:
    # A 405 answer must say which methods are allowed.
    return (
        {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else {}
    )


def unavailable(conf, error: Exception, method: str) -> str:
    """Name the server that failed, with its URL (password masked): the fix is obvious."""
    if isinstance(error, OperationalError):
        what = f"The broker at {maybe_sanitize_url(conf.broker_url)}"
    elif isinstance(error, redis.exceptions.RedisError | sqlalchemy.exc.SQLAlchemyError):
        what = f"The result backend at {maybe_sanitize_url(conf.result_backend)}"
    else:
        what = f"A server ({type(error).__name__})"
    queued = " Nothing was queued." if method == "POST" else ""
    return f"{what} did not answer.{queued} Try again later."
