"""The task API: submit work, then poll its state with the task id."""

import json
import socket
from urllib.parse import urlsplit

from celery import states
from celery.result import AsyncResult
from celery.utils import uuid
from flask import Blueprint, abort, current_app, request, url_for
from kombu.utils.url import maybe_sanitize_url
from werkzeug.sansio.utils import host_is_trusted

from step01_flask_celery.app.tasks import process_data

api = Blueprint("api", __name__)

MAX_SECONDS = 30
MAX_DEPTH = 32  # levels of lists and objects in a body: a task's data, not a puzzle
# The port of each kind of server when its URL does not say.
DEFAULT_PORTS = {"amqp": 5672, "pyamqp": 5672, "redis": 6379, "postgresql": 5432, "psycopg": 5432}
# What a JSON value is called in JSON, for error messages.
JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true/false",
    type(None): "null",
}


@api.get("/")
def index():
    return {
        "endpoints": {
            "POST /api/process_data": 'start a task; body {"seconds": 2}',
            "GET /api/tasks/<task_id>": "state and result of a task",
            "GET /health": "which broker and result backend this app uses",
        }
    }


@api.get("/health")
def health():
    """Which broker and result backend this app uses, and whether each accepts a connection now
    ("ok" and 200, or "degraded" and 503: what a load balancer or a container check reads)."""
    conf = current_app.extensions["celery"].conf
    broker, backend = server(conf.broker_url), server(conf.result_backend)
    up = broker["reachable"] and backend["reachable"]
    embedded = broker["embedded"] or backend["embedded"]
    body = {
        "status": "ok" if up else "degraded",
        # The embedded default (README.md, section 4): a folder and a SQLite file, no server.
        "embedded": embedded,
        "broker": broker,
        "result_backend": backend,
    }
    return body, 200 if up else 503


def server(url: str) -> dict:
    """A server's URL (password masked), and whether something accepts a TCP connection there.
    A filesystem broker or a SQLite file is the embedded default: always there."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.split("+")[-1])
    reachable = True
    if port:
        try:
            socket.create_connection((parts.hostname or "localhost", port), timeout=0.3).close()
        except OSError:
            reachable = False
    embedded = parts.scheme in ("filesystem", "db+sqlite")
    return {"url": maybe_sanitize_url(url), "embedded": embedded, "reachable": reachable}


@api.before_app_request
def known_host() -> None:
    """A Host header outside ALLOWED_HOSTS (config.py) gets a 400. (Flask's own TRUSTED_HOSTS
    does the same, but its error is raised again by every later read of request.url, and
    step 2's tracing reads it after the answer: a 500.)"""
    if not host_is_trusted(request.host, current_app.config["ALLOWED_HOSTS"]):
        abort(400, description="This Host header is not one this app serves (ALLOWED_HOSTS).")


@api.post("/api/process_data")
def submit():
    payload = read_json_object()
    seconds = read_seconds(payload)
    fail = payload.get("fail", False)
    if not isinstance(fail, bool):
        abort(400, description='"fail" must be true or false.')

    # Record the id before publishing: a worker may finish before this view returns,
    # and GET must be able to tell "queued" (recorded) from "never submitted" (nothing stored).
    task_id = uuid()
    result = process_data.AsyncResult(task_id)
    result.backend.store_result(task_id, None, states.PENDING)
    try:
        process_data.apply_async(args=(payload, seconds, fail), task_id=task_id)
    except Exception:
        result.forget()  # the task was never queued: do not leave a record that says it was
        raise
    status_url = url_for("api.task_status", task_id=task_id, _external=True)
    return {"task_id": task_id, "status_url": status_url}, 202, {"Location": status_url}


@api.get("/api/tasks/<task_id>")
def task_status(task_id: str):
    result = AsyncResult(task_id, app=current_app.extensions["celery"])
    state = result.state
    # To Celery, PENDING also means "I have never heard of this id": exists() tells them apart.
    if state == states.PENDING and not result.exists():
        abort(404, description=f"No task with id {task_id!r} was ever submitted here.")

    body = {"task_id": task_id, "state": state}
    if state == states.SUCCESS:
        body["result"] = result.result
        return body, 200
    if state in states.EXCEPTION_STATES:  # FAILURE, REVOKED, RETRY
        error = result.result
        body["error"] = {"type": type(error).__name__, "message": str(error)}
        return body, 202 if state == states.RETRY else 200
    if state == "PROGRESS":
        body["progress"] = result.info
    return body, 202, {"Retry-After": "1"}


def read_json_object() -> dict:
    """The request body as a dict, or a 400 that says what is wrong with it."""
    length = request.headers.get("Content-Length")
    if length is not None and not length.isdigit():
        # The development server reads no body then ("abc", "-1"): it must not pass for none.
        abort(400, description="Content-Length must be a whole number of bytes.")
    raw = request.get_data(cache=True)  # raises 413 when Content-Length is over the limit
    if len(raw) >= current_app.config["MAX_CONTENT_LENGTH"]:
        # A chunked body has no Content-Length: Werkzeug stops reading at the limit instead.
        abort(413)
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":  # a form, XML, text: not what this API reads
        abort(415, description="Send the body as JSON, with Content-Type: application/json.")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        abort(400, description=f'The body is not valid JSON ({error}). Send e.g. {{"seconds": 2}}.')
    except RecursionError:  # [[[[...]]]] thousands deep: Python's parser gives up
        abort(400, description='The body is nested too deeply. Send e.g. {"seconds": 2}.')
    if too_deep(payload):  # Python 3.11 refuses 1000 levels itself; 3.12 and later parse more
        abort(400, description='The body is nested too deeply. Send e.g. {"seconds": 2}.')
    if not isinstance(payload, dict):
        kind = JSON_TYPES.get(type(payload), type(payload).__name__)
        abort(400, description=f'The body must be a JSON object like {{"seconds": 2}}, not {kind}.')
    return payload


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and objects nest more than `limit` levels (counted without recursion)."""
    level = [value]
    for _ in range(limit):
        level = [
            inner
            for outer in level
            if isinstance(outer, dict | list)
            for inner in (outer.values() if isinstance(outer, dict) else outer)
        ]
        if not level:
            return False
    return any(isinstance(inner, dict | list) for inner in level)


def read_seconds(payload: dict) -> float:
    """How long the task should work: "seconds" from the body or the TASK_SECONDS default."""
    seconds = payload.get("seconds", current_app.config["TASK_SECONDS"])
    is_number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    # The range test also refuses NaN and Infinity, which Python's json module accepts.
    if not (is_number and 0 <= seconds <= MAX_SECONDS):
        abort(400, description=f'"seconds" must be a number from 0 to {MAX_SECONDS}.')
    return float(seconds)
