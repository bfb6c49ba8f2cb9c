"""GET /health: which broker and result backend this app uses, and whether they answer."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from step04_fastapi_canvas import celeryconfig
from step04_fastapi_canvas.settings import get_settings

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"description": "A server does not answer."}})
def health() -> JSONResponse:
    services = celeryconfig.services
    broker, backend = services.broker.describe(), services.backend.describe()
    up = broker["reachable"] and backend["reachable"]
    body = {
        "status": "ok" if up else "degraded",
        "mode": services.mode,
        "embedded": services.embedded,
        "broker": broker,
        "result_backend": backend,
        "banner": services.banner(),
        # The tasks' durations times this (make check-step04 waits accordingly).
        "task_delay_scale": get_settings().task_delay_scale,
    }
    return JSONResponse(body, status_code=200 if up else 503)
