"""Step 4: FastAPI + Celery canvas (solo, chain, group, chord) with a live canvas page, under
supervisord (step04_fastapi_canvas/). workshop/README.md explains the fields."""

import uuid

from workshop import checks
from workshop.checks import Context
from workshop.registry import Http, Ping, Port, Program, Step, TaskApi, Trip


# Its own checks; the shared ones are in workshop/checks.py.
def unknown_ids_are_404(context: Context) -> None:
    for path in (f"/result/{uuid.uuid4()}", f"/result/group/{uuid.uuid4()}"):
        status = context.client.get(path).status_code
        if status == 404:
            context.report.ok(f"GET {path.rsplit('/', 1)[0]}/<never submitted> → 404")
        else:
            context.report.fail(f"GET {path} answered {status}", "expected 404, not PENDING")


def bad_body_is_422(context: Context) -> None:
    answer = context.client.post("/workflows/chord", json={"a": "three", "b": 10**9})
    problems = answer.json().get("detail", []) if answer.status_code == 422 else []
    if len(problems) == 2:
        context.report.ok("a body with a word for a number and a number too big gets 422")
    else:
        context.report.fail(f"a bad body got {answer.status_code}", "expected 422, two errors")


STEP = Step(
    folder="step04_fastapi_canvas",
    title="FastAPI + Celery canvas: solo, chain, group, chord",
    ports=(Port("fastapi", 8001, "FASTAPI_PORT", "FastAPI"),),
    runner="supervisord",  # reads step04_fastapi_canvas/supervisord.conf
    programs=(
        Program("web", ready=Http("fastapi")),
        Program("worker", ready=Ping("{worker_prefix}canvas")),
    ),
    # The seed's 20 s and 2 s, ten times shorter; the learner's TASK_DELAY_SCALE=1 wins.
    env={"TASK_DELAY_SCALE": "0.1"},
    queue="default",  # the sum tasks go to "default-sum"
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
        checks.round_trip,
        unknown_ids_are_404,
        bad_body_is_422,
    ),
    # POST /workflows/solo with two numbers: one add task.
    task_api=TaskApi(
        targets=("fastapi",),
        submit="/workflows/solo",
        status="/result/{task_id}",
        task="step04_fastapi_canvas.tasks.arithmetic.add",
        # On 3 and 4: the chain is add(3, 4) = 7, then sum_multiply(7, 3, 4) = [3 * 7, 4 * 7]
        # (22 s at TASK_DELAY_SCALE=1); the group add and multiply side by side; the chord the
        # group, then combine.
        trips=(
            Trip("/workflows/chain", {"a": 3, "b": 4}, ("result", [21, 28]), 22, "chain"),
            Trip("/workflows/group", {"a": 3, "b": 4}, ("results", [7, 12]), 20, "group"),
            Trip(
                "/workflows/chord",
                {"a": 3, "b": 4},
                ("result", {"results": [7, 12], "total": 19}),
                20,
                "chord",
            ),
        ),
        done_by="api",
        baseline=False,
        load={"a": 1, "b": 1},
    ),
)
