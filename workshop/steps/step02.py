"""Step 2: step 1's app behind Gunicorn and Nginx, two workers and Flower, under supervisord
(step02_nginx_gunicorn/). workshop/README.md explains this declaration line by line."""

from workshop import checks
from workshop.registry import Http, Ping, Port, Program, Step, TaskApi, Tracing

STEP = Step(
    name="step02",
    title="Nginx + Gunicorn + 2 Celery workers + Flower",
    folder="step02_nginx_gunicorn",
    ports=(
        Port("nginx", 8888, "NGINX_PORT", "Nginx"),
        Port("gunicorn", 8002, "GUNICORN_PORT", "Gunicorn"),
        Port("flower", 5555, "FLOWER_PORT", "Flower"),
    ),
    runner="supervisord",  # reads step02_nginx_gunicorn/supervisord.conf
    needs={"nginx": "`sudo apt-get install nginx` (Debian/Ubuntu) or `brew install nginx`"},
    programs=(
        Program("nginx", ready=Http("nginx")),
        Program("gunicorn", ready=Http("gunicorn")),
        Program("worker1", ready=Ping("{worker_prefix}worker1")),
        Program("worker2", ready=Ping("{worker_prefix}worker2")),
        Program("flower", ready=Http("flower", "/")),
    ),
    env={
        "GUNICORN_UPSTREAM": "127.0.0.1:{GUNICORN_PORT}",
        "NGINX_ACCESS_LOG": "{STEP_LOG_DIR}/nginx-access.log",
    },
    templates={"nginx/nginx.conf": "nginx-main.conf", "nginx/step02.conf": "nginx.conf"},
    database=True,  # PostgreSQL (SQLite when embedded) keeps the task history
    before=("python -m step02_nginx_gunicorn.history",),  # creates its table
    try_lines=(
        "API through Nginx: http://localhost:{NGINX_PORT}   "
        "Gunicorn direct: http://localhost:{GUNICORN_PORT}",
        "Flower:            http://localhost:{FLOWER_PORT}   "
        "user {FLOWER_USER} password {FLOWER_PASSWORD}{FLOWER_NOTE}",
        "Logs:              {STEP_LOG_DIR}/",
        "",
        "for i in $(seq 50); do curl -s -X POST localhost:{NGINX_PORT}/api/process_data "
        "-H 'Content-Type: application/json' -d '{{\"seconds\": 1}}'; done",
        "make check-step02{PORT_ARG}              # every hop, one line each",
        "make ps                        # the master and worker processes",
        "make trace ID=<task_id>        # one request's timeline, hop by hop",
        "make stress N=500 C=20{PORT_ARG}         # load through Nginx, with figures",
    ),
    checks=(
        checks.nginx_answers,
        checks.gunicorn_workers,
        checks.app_behind_answers,
        checks.services_reachable,
        checks.workers_answer_ping,
        checks.tasks_spread_over_workers,
        checks.unknown_id_is_404,
        checks.bad_json_is_400,
        checks.big_body_is_413_from_nginx,
        checks.flower_asks_for_a_password,
    ),
    celery_app="step02_nginx_gunicorn.worker:celery_app",
    task_api=TaskApi(targets=("nginx", "gunicorn")),
    tracing=Tracing(spans="spans.jsonl", access_log="logs/nginx-access.log"),
    history="step02_nginx_gunicorn.history:history",  # for `faults`: which tasks ran twice
)
