"""Step 1: Flask + Celery, two processes from a Procfile (step01_flask_celery/)."""

from workshop import checks
from workshop.registry import Http, Ping, Port, Program, Step, TaskApi

STEP = Step(
    folder="step01_flask_celery",
    title="Flask + Celery",
    ports=(Port("flask", 8000, "PORT", "Flask"),),
    runner="honcho",  # reads step01_flask_celery/Procfile
    programs=(
        Program("web", ready=Http("flask")),
        Program("worker", ready=Ping("{worker_name}")),
    ),
    try_lines=(
        "curl -s -X POST localhost:{PORT}/api/process_data "
        "-H 'Content-Type: application/json' -d '{{\"seconds\": 2}}'",
        "curl -s localhost:{PORT}/api/tasks/<task_id>",
        "curl -s localhost:{PORT}/health",
        "make check-step01{PORT_ARG}   # verifies every hop",
    ),
    checks=(
        checks.flask_answers,
        checks.services_reachable,
        checks.workers_answer_ping,
        checks.round_trip,
        checks.unknown_id_is_404,
        checks.bad_json_is_400,
    ),
    task_api=TaskApi(targets=("flask",)),
)
