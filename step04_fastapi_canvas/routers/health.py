"""GET /health: which broker and result backend this app uses, and whether they answer now."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from step04_fastapi_canvas.celery_app import celery_app
from step04_fastapi_canvas.schemas import Health, Server
from step04_fastapi_canvas.settings import get_settings

router = APIRouter(tags=["health"])


def broker_answers() -> bool:
    """Open a connection to the broker, as a publish would (one quick retry)."""
    try:
        with celery_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except (OperationalError, OSError):
        return False
    return True


def backend_answers() -> bool:
    """Read one result, as a client's poll does."""
    try:
        celery_app.backend.get_task_meta("health-check")
    except (RedisError, SQLAlchemyError, OSError):
        return False
    return True


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A server does not answer."}},
)
def health() -> JSONResponse:
    conf = celery_app.conf
    broker = Server(
        url=maybe_sanitize_url(conf.broker_url),
        embedded=conf.broker_url.startswith("filesystem://"),  # no server: files
        reachable=broker_answers(),
    )
    backend = Server(
        url=maybe_sanitize_url(conf.result_backend),
        embedded=conf.result_backend.startswith("db+sqlite"),  # no server: a file
        reachable=backend_answers(),
    )
    answer = Health(
        status="ok" if broker.reachable and backend.reachable else "degraded",
        embedded=broker.embedded or backend.embedded,
        broker=broker,
        result_backend=backend,
        # make check-step04 waits for the tasks accordingly.
        task_delay_scale=get_settings().task_delay_scale,
    )
    return JSONResponse(answer.model_dump(), status_code=200 if answer.status == "ok" else 503)
