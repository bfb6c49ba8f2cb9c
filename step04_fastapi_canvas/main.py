"""The FastAPI app of step 4: `uvicorn step04_fastapi_canvas.main:app --port 8001`."""

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from step04_fastapi_canvas.celery_app import celery_app
from step04_fastapi_canvas.middleware import HeadAsGet, KnownHost, LimitBody
from step04_fastapi_canvas.routers import canvas, health, results, seed, tasks, workflows
from step04_fastapi_canvas.routers.canvas import STATIC
from step04_fastapi_canvas.settings import get_settings

if celery_app.conf.result_backend.startswith("redis"):
    # This process only reads results: it does not subscribe to them (backends.py).
    celery_app.backend_cls = "step04_fastapi_canvas.backends:ReadOnlyRedisBackend"

# FastAPIOffline: /docs and /redoc with their assets served by this app, not from a CDN.
app = FastAPIOffline(
    title="Step 4: FastAPI + Celery canvas",
    description="Solo tasks, chains, groups and chords; their results; a live canvas page.",
    version="1.0",
)
# A body over 64 KB gets a JSON 413; HEAD is answered as GET without the body; a Host header
# outside ALLOWED_HOSTS gets a 400 (middleware.py). The last one added runs first.
app.add_middleware(LimitBody, max_bytes=64 * 1024)
app.add_middleware(HeadAsGet, starts_work=("/solo/",))
app.add_middleware(KnownHost, allowed=get_settings().allowed_hosts)
for router in (seed.router, workflows.router, results.router, tasks.router, health.router):
    app.include_router(router)
app.include_router(canvas.router)
# Every asset of the canvas page is served from here: no CDN, works offline.
app.mount("/static", StaticFiles(directory=STATIC), name="static")


@app.exception_handler(RequestValidationError)
async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    # Each problem with where and what, without echoing the input (it may be huge, or NaN).
    problems = [
        {"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]}
        for problem in error.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


@app.exception_handler(OperationalError)
async def broker_down(request: Request, error: OperationalError) -> JSONResponse:
    # A publish that failed after its quick retries: nothing was queued.
    return JSONResponse({"detail": f"The broker is not reachable: {error}"}, status_code=503)


@app.exception_handler(RedisError)
async def backend_down(request: Request, error: RedisError) -> JSONResponse:
    return JSONResponse(
        {"detail": f"The result backend is not reachable: {error}"}, status_code=503
    )


@app.exception_handler(Exception)
async def unexpected(request: Request, error: Exception) -> JSONResponse:
    # Never a traceback in an answer: the log has it.
    return JSONResponse({"detail": "Internal error: the server log says more."}, status_code=500)
