"""Step 4: FastAPI + Celery canvas (solo, chain, group, chord) with a live canvas page, under
supervisord (step04_fastapi_canvas/). workshop/README.md explains the fields."""

from dataclasses import dataclass

from workshop import checks
from workshop.registry import Http, Ping, Port, Program, Step, TaskApi


@dataclass(frozen=True)
class CanvasApi(TaskApi):
    """POST /workflows/solo with two numbers: one add task."""

    def body(self, seconds: float, number: int) -> dict:
        return {"a": number, "b": 1}


STEP = Step(
    name="step04",
    title="FastAPI + Celery canvas: solo, chain, group, chord",
    folder="step04_fastapi_canvas",
    ports=(Port("fastapi", 8001, "FASTAPI_PORT", "FastAPI"),),
    runner="supervisord",  # reads step04_fastapi_canvas/supervisord.conf
    programs=(
        Program("web", ready=Http("fastapi")),
        Program("worker", ready=Ping("{worker_prefix}canvas")),
    ),
    # The seed's 20 s and 2 s, ten times shorter; the learner's TASK_DELAY_SCALE=1 wins.
    env={"TASK_DELAY_SCALE": "0.1"},
    settings="step04_fastapi_canvas.settings:Step04Settings",
    try_lines=(
        "Canvas: http://localhost:{FASTAPI_PORT}/canvas     "
        "API docs: http://localhost:{FASTAPI_PORT}/docs",
        "Logs:   {STEP_LOG_DIR}/",
        "",
        "curl -s localhost:{FASTAPI_PORT}/solo/chain",
        "curl -s localhost:{FASTAPI_PORT}/result/<task_id>",
        "curl -s localhost:{FASTAPI_PORT}/solo/group",
        "curl -s -X POST localhost:{FASTAPI_PORT}/workflows/chord "
        "-H 'Content-Type: application/json' -d '{{\"a\": 3, \"b\": 4}}'",
        "make check-step04{PORT_ARG}   # every hop, one line each",
    ),
    checks=(
        checks.fastapi_answers,
        checks.services_reachable,
        checks.workers_answer_ping,
        checks.canvas_results,
        checks.unknown_ids_are_404,
        checks.bad_body_is_422,
    ),
    celery_app="step04_fastapi_canvas.celery_app:celery_app",
    task_api=CanvasApi(
        targets=("fastapi",),
        submit="/workflows/solo",
        status="/result/{task_id}",
        task="step04_fastapi_canvas.tasks.arithmetic.add",
        done_by="api",
        baseline=False,
    ),
)
