"""`python -m workshop check stepNN`: verify a RUNNING step hop by hop, one line per hop.

Every line is ✓ or ✗; a ✗ comes with a hint. The exit code is 1 when any line is ✗.
Each check is a small function of a `Context`; a step lists the ones that apply to it
(workshop/steps/). The test suite runs these same checks against the steps it starts.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import psutil
from rich.console import Console

from workshop.probe import OtherBroker, broker_url_for, ping_workers, queue_depth
from workshop.registry import Step
from workshop.settings import ROOT, Settings, endpoint, reachable, safe_url, scheme
from workshop.waiting import wait_for_answer, wait_for_tasks

SERVER_NAMES = {"amqp": "RabbitMQ", "redis": "Redis", "postgresql": "PostgreSQL"}


class Report:
    """Prints ✓/✗ lines as they come and remembers whether any failed."""

    def __init__(self, console: Console):
        self.console = console
        self.failed = 0

    def ok(self, text: str) -> None:
        self.console.print(f"[green]✓[/] {text}", highlight=False)

    def fail(self, text: str, hint: str) -> None:
        self.failed += 1
        self.console.print(f"[red]✗[/] {text}: {hint}", highlight=False)

    def note(self, text: str) -> None:
        self.console.print(f"[blue]ⓘ[/] {text}", highlight=False)


class Stop(Exception):
    """The checks after this one cannot run (nothing answers)."""


@dataclass
class Context:
    step: Step
    url: str  # where the step answers
    ports: dict[str, int]
    settings: Settings
    timeout: float  # seconds to wait for tasks
    client: httpx.Client
    report: Report
    health: dict = field(default_factory=dict)  # GET /health, once a check has read it
    status: int = 0  # and its status code

    @property
    def start_hint(self) -> str:
        return f"make {self.step.name}"

    def log(self, program: str) -> str:
        """Where a program's log is, as short as it can be said."""
        path = self.step.run_dir(self.settings) / "logs" / f"{program}.log"
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def submit(self, **extra) -> str:
        api = self.step.task_api
        body = {"seconds": 0.5, "from": "check", **extra}
        return self.client.post(api.submit, json=body).json()["task_id"]


def run_checks(step: Step, url: str, settings: Settings, timeout: float, console: Console) -> int:
    """Run the step's checks against `url`, in order; 1 when any of them failed."""
    report = Report(console)
    with httpx.Client(base_url=url, timeout=5) as client:
        context = Context(step, url, step.port_numbers(settings), settings, timeout, client, report)
        api_down = False
        for check in step.checks:
            if api_down and check not in BESIDE_THE_APP:
                continue
            try:
                check(context)
            except Stop:
                break
            except (httpx.HTTPError, ValueError, KeyError) as error:
                report.fail(
                    f"the task API stopped answering ({error!r})",
                    f"is the step still running? (`{context.start_hint}`)",
                )
                api_down = True  # the checks beside the app (Flower) still run
    return 1 if report.failed else 0


def short(task_id: str) -> str:
    return task_id[:8] + "…"


def read_health(context: Context, name: str) -> httpx.Response:
    """GET /health; when nothing answers, say so and stop."""
    try:
        answer = context.client.get("/health")
        context.status, context.health = answer.status_code, answer.json()
    except (httpx.HTTPError, ValueError) as error:
        context.report.fail(
            f"{name} does not answer at {context.url}/health ({error})",
            f"is the step running? (`{context.start_hint}`)",
        )
        raise Stop from None
    return answer


# --- The front door ---------------------------------------------------------------------------


def app_answers(context: Context, name: str) -> None:
    """The app's /health answered with the servers it uses."""
    answer = read_health(context, name)
    health = context.health
    if "broker" not in health:
        context.report.fail(
            f"{name} does not answer at {context.url}/health ({answer.status_code} {health})",
            f"is the step running? (`{context.start_hint}`)",
        )
        raise Stop
    mode = "embedded default" if health["embedded"] else "real services"
    context.report.ok(f"{name} answers at {context.url} ({mode}, WORKSHOP_MODE={health['mode']})")


def flask_answers(context: Context) -> None:
    app_answers(context, "Flask")


def django_answers(context: Context) -> None:
    app_answers(context, "Django")


def fastapi_answers(context: Context) -> None:
    app_answers(context, "FastAPI")


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
    expected = context.settings.gunicorn_workers or (os.cpu_count() or 1) + 1
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


# --- The servers and the workers --------------------------------------------------------------


def services_reachable(context: Context) -> None:
    """The broker, the result backend and the database that /health names accept connections."""
    seen = set()
    for role, key in (
        ("broker", "broker"),
        ("result backend", "result_backend"),
        ("database", "database"),
    ):
        info = context.health.get(key)
        if info is None and key == "database" and context.step.database:
            # A /health that does not name the database (step 2 serves step 1's app): the
            # database the step's settings name, as the launcher exported it.
            url = context.settings.database_url
            info = {"url": url, "embedded": url.startswith("sqlite")}
        if info is None or info["url"] in seen:  # step 3 keeps its results in its database
            continue
        seen.add(info["url"])
        if info["embedded"]:
            context.report.ok(f"{role}: embedded default {info['url']} (no server needed)")
            continue
        host, port = endpoint(info["url"]) or ("?", 0)
        kind = SERVER_NAMES.get(scheme(info["url"]), role)
        if reachable(info["url"], timeout=1):
            context.report.ok(f"{kind} reachable at {host}:{port}")
        else:
            context.report.fail(
                f"{kind} not reachable at {host}:{port}", "start it with `make services`"
            )


def workers_answer_ping(context: Context) -> None:
    """The step's own workers (by name) answer ping; other workers on the broker are mentioned."""
    try:
        url, options = broker_url_for(context.health)
    except OtherBroker as error:
        context.report.fail("could not ping the workers", str(error))
        return
    try:
        names = ping_workers(url, options, timeout=2)
    except Exception as error:  # any kombu/socket error means the same thing here
        context.report.fail(
            f"could not ping workers through {safe_url(url)} ({error})", context.start_hint
        )
        return
    wanted = context.step.worker_names(context.settings)
    missing = [name for name in wanted if name not in names]
    others = sorted(set(names) - set(wanted))
    also = f" (also on this broker: {', '.join(others)})" if others else ""
    if not missing:
        plural = "worker answers" if len(wanted) == 1 else "workers answer"
        context.report.ok(f"{len(wanted)} Celery {plural} ping: {', '.join(wanted)}{also}")
    else:
        context.report.fail(
            f"no answer to ping from {', '.join(missing)} within 2 s{also}",
            f"is the worker running? ({context.start_hint} starts it)",
        )


def allow_for_backlog(context: Context) -> float:
    """Tasks queue behind what already waits: say so, and wait for it (60 s at most)."""
    try:
        url, options = broker_url_for(context.health)
    except OtherBroker:  # said by workers_answer_ping
        return context.timeout
    waiting = queue_depth(url, options, context.settings.celery_task_default_queue)
    if not waiting:
        return context.timeout
    context.report.note(
        f"{waiting} messages already wait in the queue: the check's "
        "tasks come after them, so it waits up to 60 s"
    )
    return max(context.timeout, 60)


# --- The task API -----------------------------------------------------------------------------


def task_round_trip(context: Context) -> None:
    """One task, from POST to SUCCESS."""
    api, report = context.step.task_api, context.report
    timeout = allow_for_backlog(context)
    answer = context.client.post(api.submit, json={"seconds": 0.5, "from": "check"})
    if answer.status_code != 202 or "task_id" not in answer.json():
        report.fail(f"POST {api.submit} answered {answer.status_code}", answer.text[:200])
        return
    task_id = answer.json()["task_id"]
    report.ok(f"POST {api.submit} → 202, task {short(task_id)}")
    states: dict[str, list[str]] = {}
    started = time.monotonic()
    finished = wait_for_tasks(context.client, [task_id], timeout, api.status, states=states)
    elapsed, body = time.monotonic() - started, finished.get(task_id)
    if body and body["state"] == "SUCCESS":
        worker = body["result"].get("worker", "?")
        report.ok(f"task {short(task_id)} SUCCESS in {elapsed:.1f} s on {worker}")
    elif body:
        report.fail(f"task {short(task_id)} FAILURE", str(body.get("error")))
    else:
        report.fail(
            f"task {short(task_id)} still {states[task_id][-1]} after {timeout:g} s",
            f"is a worker running? ({context.start_hint} starts one)",
        )


def tasks_spread_over_workers(context: Context, count: int = 6) -> None:
    """Six tasks at once: the step's workers and their pool processes must share them."""
    api, report = context.step.task_api, context.report
    timeout = allow_for_backlog(context)
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        ids = list(pool.map(lambda number: context.submit(n=number), range(count)))
    front = context.step.port(api.targets[0]).label
    report.ok(f"{count} requests through {front} → 202 (first task {short(ids[0])})")
    finished = wait_for_tasks(context.client, ids, timeout, api.status)
    done = [body["result"] for body in finished.values() if body["state"] == "SUCCESS"]
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


def scrape_round_trip(context: Context) -> None:
    """Step 3: one scrape of the demo blog, from POST to its summary, then the article list."""
    api, report = context.step.task_api, context.report
    timeout = allow_for_backlog(context)
    answer = context.client.post(api.submit)
    if answer.status_code != 202 or "task_id" not in answer.json():
        report.fail(f"POST {api.submit} answered {answer.status_code}", answer.text[:200])
        return
    task_id = answer.json()["task_id"]
    report.ok(f"POST {api.submit} → 202, scrape {short(task_id)}")
    states: dict[str, list[str]] = {}
    started = time.monotonic()
    finished = wait_for_tasks(context.client, [task_id], timeout, api.status, states=states)
    elapsed, body = time.monotonic() - started, finished.get(task_id)
    if body is None:
        report.fail(
            f"scrape {task_id} still {states[task_id][-1]} after {timeout:g} s",
            f"is the worker running? ({context.start_hint} starts it; `make ps` shows it)",
        )
        return
    if body["state"] != "SUCCESS":
        report.fail(f"scrape {short(task_id)} FAILURE", str(body.get("error")))
        return
    result = body["result"]
    report.ok(
        f"scrape {short(task_id)} SUCCESS in {elapsed:.1f} s: {result['found']} links, "
        f"{result['created']} created, {result['updated']} updated, {result['failed']} failed"
    )
    for problem in result["errors"]:
        report.note(f"failed as it should, with its error on the dashboard: {problem['error']}")
    stored = context.client.get("/api/articles").json()["count"]
    if stored >= result["created"] + result["updated"]:
        report.ok(f"GET /api/articles lists {stored} articles")
    else:
        report.fail(f"GET /api/articles lists only {stored} articles", "read the worker's log")


# Step 4's workflows on 3 and 4, and what each must give.
CANVAS = {
    "chain": [21, 28],  # add(3, 4) = 7, then sum_multiply(7, 3, 4) = [3 * 7, 4 * 7]
    "group": [7, 12],  # add(3, 4) and multiply(3, 4), side by side
    "chord": {"results": [7, 12], "total": 19},  # the group, then combine
}


def canvas_results(context: Context) -> None:
    """Step 4: a chain, a group and a chord on 3 and 4, each with its right result."""
    report = context.report
    # A chain is add then sum_multiply: 22 s at TASK_DELAY_SCALE=1 (its /health says it).
    slowest = 22 * context.health.get("task_delay_scale", 0) + 5
    timeout = max(allow_for_backlog(context), slowest)
    for kind, expected in CANVAS.items():
        submitted = context.client.post(f"/workflows/{kind}", json={"a": 3, "b": 4})
        if submitted.status_code != 202:
            report.fail(f"POST /workflows/{kind} answered {submitted.status_code}", submitted.text)
            continue
        started = time.monotonic()
        path = submitted.json()["result_url"]
        body = wait_for_answer(context.client, path, timeout).json()
        got = body.get("results") if kind == "group" else body.get("result")
        elapsed = time.monotonic() - started
        if got == expected:
            report.ok(f"{kind} on 3 and 4 → {json.dumps(got)} in {elapsed:.1f} s")
        elif body.get("state") in ("PENDING", "STARTED", "PROGRESS"):
            report.fail(
                f"{kind} still {body['state']} after {timeout:g} s ({path})",
                f"is the worker running? ({context.start_hint} starts it; `make ps` shows it)",
            )
            return  # the other workflows would wait for the same worker
        else:
            report.fail(f"{kind} on 3 and 4 gave {body}", f"expected {json.dumps(expected)}")


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


def demo_blog_answers(context: Context) -> None:
    port = context.ports["blog"]
    try:
        feed = httpx.get(f"http://127.0.0.1:{port}/feed.xml", timeout=5)
        ok = feed.status_code == 200 and b"<rss" in feed.content
    except httpx.HTTPError:
        ok = False
    if ok:
        context.report.ok(f"the demo blog serves its feed at http://127.0.0.1:{port}/feed.xml")
    else:
        context.report.fail(
            f"the demo blog does not answer on port {port}", f"read {context.log('blog')}"
        )


def unknown_id_is_404(context: Context) -> None:
    unknown = context.client.get(context.step.task_api.status.format(task_id=uuid.uuid4()))
    if unknown.status_code == 404:
        context.report.ok("an id that was never submitted gets 404, not a fake PENDING")
    else:
        context.report.fail(f"an unknown task id got {unknown.status_code}", "expected 404")


def json_error(context: Context, body: str | bytes, status: int) -> int | None:
    """POST `body` as JSON to the task API: None when the answer is a JSON `status` error,
    else the status it got."""
    headers = {"Content-Type": "application/json"}
    answer = context.client.post(context.step.task_api.submit, content=body, headers=headers)
    is_json = answer.headers.get("content-type", "").startswith("application/json")
    return None if answer.status_code == status and is_json else answer.status_code


def bad_json_is_400(context: Context) -> None:
    got = json_error(context, "{json}", 400)
    if got is None:
        context.report.ok("a body that is not JSON gets a 400 JSON error")
    else:
        context.report.fail(f"the body {{json}} got {got}", "expected a 400 JSON error")


def big_body_is_413_from_nginx(context: Context) -> None:
    got = json_error(context, b"x" * (2 * 1024 * 1024), 413)
    if got is None:
        context.report.ok("a 2 MB body gets a JSON 413 from Nginx")
    else:
        context.report.fail(f"a 2 MB body got {got}", "expected a JSON 413")


# --- Beside the app ---------------------------------------------------------------------------


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


# Checks that do not ask the app anything: they still run once the task API stopped answering.
BESIDE_THE_APP = {flower_asks_for_a_password, demo_blog_answers}
