"""Step 2: step 1's app behind Gunicorn and Nginx, two workers and Flower, under supervisord
(step02_nginx_gunicorn/). workshop/README.md explains this declaration line by line."""

import concurrent.futures
from collections import Counter

import httpx
import psutil

from workshop import checks
from workshop.checks import (
    Context,
    Stop,
    allow_for_backlog,
    beside_the_app,
    json_error,
    read_health,
    short,
)
from workshop.registry import Exercise, Http, Ping, Port, Program, Step, TaskApi, Tracing
from workshop.waiting import follow


# Its own checks; the shared ones are in workshop/checks.py.
def nginx_answers(context: Context) -> None:
    answer = read_health(context, "Nginx")
    request_id = answer.headers.get("x-request-id", "")
    if answer.headers.get("server") == "nginx" and len(request_id) == 32:
        context.report.ok(
            f"Nginx answers at {context.url} (request id {request_id[:8]}…, no version)"
        )
    else:
        context.report.fail(
            f"{context.url} did not answer like step 2's Nginx "
            f"(Server: {answer.headers.get('server')!r})",
            "is it step 2 on this port?",
        )


def app_behind_answers(context: Context) -> None:
    """The app behind the proxy answered /health (read by nginx_answers)."""
    if context.status != 200 or "broker" not in context.health:
        context.report.fail(
            f"/health through Nginx answered {context.status}: {context.health.get('message', '')}",
            "the app behind Nginx does not answer",
        )
        raise Stop


def gunicorn_processes(port: int) -> tuple[int | None, list[int]]:
    """(master pid, worker pids) of the Gunicorn that listens on `port`."""
    pids = {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid
    }
    for pid in pids:
        try:
            process = psutil.Process(pid)
            # Workers share the master's listening socket: walk up to the first gunicorn.
            while "gunicorn" in " ".join(process.parent().cmdline()):
                process = process.parent()
            return process.pid, [child.pid for child in process.children()]
        except (psutil.NoSuchProcess, AttributeError):
            continue
    return None, []


def gunicorn_workers(context: Context) -> None:
    port, log = context.ports["gunicorn"], context.log("gunicorn")
    master, workers = gunicorn_processes(port)
    expected = int(context.env.processes().get("GUNICORN_WORKERS") or psutil.cpu_count() + 1)
    if master and len(workers) == expected:
        context.report.ok(
            f"Gunicorn master (pid {master}) with {len(workers)} workers on port {port}"
        )
    elif master is None:
        context.report.fail(
            f"no Gunicorn listens on port {port}",
            f"is it running? (`make ps`; {log} says why not)",
        )
    else:
        context.report.fail(
            f"Gunicorn on port {port}: master {master}, {len(workers)} workers "
            f"(expected {expected})",
            f"read {log}",
        )


def tasks_spread_over_workers(context: Context, count: int = 6) -> None:
    """Six tasks at once: the step's workers and their pool processes must share them."""
    api, report = context.step.task_api, context.report
    timeout = allow_for_backlog(context)
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        ids = list(pool.map(lambda number: context.submit(n=number), range(count)))
    front = context.step.port(api.targets[0]).label
    report.ok(f"{count} requests through {front} → 202 (first task {short(ids[0])})")
    urls = [api.status.format(task_id=task_id) for task_id in ids]
    answers = follow(context.client, urls, timeout).values()
    done = [body["result"] for body in map(httpx.Response.json, answers) if "result" in body]
    if len(done) == count:
        report.ok(f"all {count} tasks SUCCESS within {timeout:g} s")
    else:
        report.fail(
            f"{count - len(done)} of {count} tasks not done after {timeout:g} s",
            f"are the workers running? ({context.start_hint} starts them)",
        )
    spread = Counter(result["worker"] for result in done)
    text = ", ".join(f"{name} {number}" for name, number in sorted(spread.items()))
    if len(spread) >= 2:
        report.ok(f"{len(spread)} workers took tasks: {text}")
    else:
        report.fail(
            f"only one worker took tasks ({text})", "is the second worker running? (`make ps`)"
        )


def big_body_is_413_from_nginx(context: Context) -> None:
    got = json_error(context, b"x" * (2 * 1024 * 1024), 413)
    if got is None:
        context.report.ok("a 2 MB body gets a JSON 413 from Nginx")
    else:
        context.report.fail(f"a 2 MB body got {got}", "expected a JSON 413")


@beside_the_app
def flower_asks_for_a_password(context: Context) -> None:
    port = context.ports["flower"]
    try:
        flower = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    except httpx.HTTPError as error:
        context.report.fail(
            f"Flower does not answer on port {port} ({error})", f"read {context.log('flower')}"
        )
        return
    if flower.status_code == 401:
        context.report.ok(f"Flower answers on port {port} and asks for a password")
    else:
        context.report.fail(
            f"Flower on port {port} answered {flower.status_code}",
            "it must ask for a password (FLOWER_BASIC_AUTH)",
        )


T = "tests/exercises/test_step02.py::test_"
EXERCISES = (
    Exercise(
        id="02.1",
        title="The front door",
        minutes=15,
        core=True,
        goal="Nginx passes requests to Gunicorn, and that is all. Make it a front door: keep its "
        "connections to Gunicorn open between requests, tell the app who asked and how (Host, "
        "X-Forwarded-For, -Proto, -Host), and answer JSON when Gunicorn does not answer.",
        files=("step02_nginx_gunicorn/nginx.conf",),
        tests=(
            f"{T}02_1_the_app_hears_who_asked_and_how",
            f"{T}02_1_nginx_keeps_its_connections_to_gunicorn",
            f"{T}02_1_a_stopped_gunicorn_is_a_json_502",
        ),
        hints=(
            "Section 3 of the step's README lists what each directive is for. Which of them "
            "are missing?",
            "Keepalive needs three lines: `keepalive 32;` in the upstream, `proxy_http_version "
            '1.1;` and `proxy_set_header Connection "";`. Each forwarded header is one '
            "proxy_set_header; the JSON pages are there already, error_page sends to them.",
            "proxy_set_header Host $http_host; X-Forwarded-For $proxy_add_x_forwarded_for; "
            "X-Forwarded-Proto $scheme; X-Forwarded-Host $http_host; and "
            "`error_page 502 /_errors/502.json;` (504 likewise).",
        ),
        checks=(nginx_answers, app_behind_answers),
    ),
    Exercise(
        id="02.2",
        title="Nothing lost when a worker dies",
        minutes=15,
        core=True,
        goal="Kill the process running a task, and the task is gone: its message was "
        "acknowledged when the task started. Make RabbitMQ keep each message until its task "
        "ran, and get it back when the process running it dies (step 1's config, which step 2 "
        "uses).",
        files=("step01_flask_celery/app/config.py",),
        tests=(f"{T}02_2_a_task_whose_process_dies_is_run_again",),
        hints=(
            "When does a Celery worker acknowledge a message, by default? And what happens to "
            "an acknowledged message when the worker dies?",
            "Two settings: one moves the acknowledgement after the task, the other gives the "
            "message back when the pool process running it dies.",
            'In RELIABILITY: "task_acks_late": True and "task_reject_on_worker_lost": True.',
        ),
        checks=(tasks_spread_over_workers,),
    ),
    Exercise(
        id="02.3",
        title="Count every run",
        minutes=15,
        core=False,
        goal="Late acks mean at least once: a task may run twice. The history (history.py) "
        "writes one row per task, and the second run's INSERT fails. In one statement, insert "
        "the row or, when it is there, add 1 to its runs.",
        files=("step02_nginx_gunicorn/history.py",),
        tests=(f"{T}02_3_each_run_of_a_task_is_counted",),
        hints=(
            "SQL can insert a row or, when its key is taken, update it instead: an upsert.",
            "SQLAlchemy's PostgreSQL and SQLite dialects both offer "
            "insert(...).on_conflict_do_update(index_elements=..., set_=...); "
            "`statement.excluded` is the row you tried to insert.",
            'set_={"runs": history.c.runs + 1, "state": statement.excluded.state, '
            '"worker": statement.excluded.worker, ...} on index_elements=[history.c.task_id].',
        ),
    ),
)


STEP = Step(
    folder="step02_nginx_gunicorn",
    title="Nginx + Gunicorn + 2 Celery workers + Flower",
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
        "NGINX_USER": "{NGINX_USER}",
        "SPANS_FILE": "{STEP_RUN_DIR}/spans.jsonl",
        "FLOWER_BASIC_AUTH": "workshop:{PASSWORD}",
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
        nginx_answers,
        gunicorn_workers,
        app_behind_answers,
        checks.services_reachable,
        checks.workers_answer_ping,
        tasks_spread_over_workers,
        checks.unknown_id_is_404,
        checks.bad_json_is_400,
        big_body_is_413_from_nginx,
        flower_asks_for_a_password,
    ),
    task_api=TaskApi(targets=("nginx", "gunicorn")),
    tracing=Tracing(spans="spans.jsonl", access_log="logs/nginx-access.log"),
    history="step02_task_history",  # for `faults`: which tasks ran twice (history.py)
    exercises=EXERCISES,
)
