"""`python -m workshop check stepNN`: verify a RUNNING step hop by hop, one line per hop.

Every line is ✓ or ✗; a ✗ comes with a hint. The exit code is 1 when any line is ✗.
Each check is a small function of a `Context`; a step lists the ones that apply to it
(workshop/steps/), the shared ones from here and its own next to its declaration. The test
suite runs these same checks against the steps it starts.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import httpx
from rich.console import Console

from workshop.environment import StepEnvironment
from workshop.probe import OtherBroker, broker_url_for, ping_workers, queue_depth
from workshop.registry import Step, Trip
from workshop.settings import ROOT, SERVER_NAMES, endpoint, reachable, safe_url, scheme
from workshop.waiting import follow


class Verdicts:
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
    env: StepEnvironment  # the step's variables, as the launcher gives them
    url: str  # where the step answers
    timeout: float  # seconds to wait for tasks
    client: httpx.Client
    report: Verdicts
    health: dict = field(default_factory=dict)  # GET /health, once a check has read it
    status: int = 0  # and its status code

    @property
    def step(self) -> Step:
        return self.env.step

    @property
    def ports(self) -> dict[str, int]:
        return self.env.ports

    @property
    def start_hint(self) -> str:
        return f"make {self.step.name}"

    def log(self, program: str) -> str:
        """Where a program's log is, as short as it can be said."""
        path = self.env.run_dir / "logs" / f"{program}.log"
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def submit(self, **extra) -> str:
        api = self.step.task_api
        body = {"seconds": 0.5, "from": "check", **extra}
        return self.client.post(api.submit, json=body).json()["task_id"]


def run_checks(env: StepEnvironment, url: str, timeout: float, console: Console) -> int:
    """Run the step's checks against `url`, in order; 1 when any of them failed."""
    report = Verdicts(console)
    with httpx.Client(base_url=url, timeout=5) as client:
        context = Context(env, url, timeout, client, report)
        api_down = False
        for check in env.step.checks:
            if api_down and not getattr(check, "beside_the_app", False):
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
    context.report.ok(f"{name} answers at {context.url} ({mode})")


def flask_answers(context: Context) -> None:
    app_answers(context, "Flask")


def django_answers(context: Context) -> None:
    app_answers(context, "Django")


def fastapi_answers(context: Context) -> None:
    app_answers(context, "FastAPI")


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
            url = context.env.variables["DATABASE_URL"]
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
        url, options = broker_url_for(context.health, context.env.variables)
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
    wanted = context.env.worker_names()
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
        url, options = broker_url_for(context.health, context.env.variables)
    except OtherBroker:  # said by workers_answer_ping
        return context.timeout
    waiting = queue_depth(url, options, context.env.queue)
    if not waiting:
        return context.timeout
    messages = "1 message already waits" if waiting == 1 else f"{waiting} messages already wait"
    context.report.note(
        f"{messages} in the queue: the check's tasks come after them, so it waits up to 60 s"
    )
    return max(context.timeout, 60)


# --- The task API -----------------------------------------------------------------------------


def round_trip(context: Context) -> None:
    """Each of the step's trips (steps 1 and 3: one task; step 4: a chain, a group and a chord),
    from POST to the end, with the result it must give."""
    timeout = allow_for_backlog(context)
    scale = context.health.get("task_delay_scale", 1)  # step 4's tasks: seconds times this
    for trip in context.step.task_api.trips:
        if not one_trip(
            context, trip, max(timeout, trip.seconds * scale + 5) if trip.seconds else timeout
        ):
            return  # the next trips would wait for the same worker


def one_trip(context: Context, trip: Trip, timeout: float) -> bool:
    """False when the work never ended: the worker is missing."""
    report = context.report
    answer = context.client.post(trip.path, json=trip.body)
    body = answer.json() if answer.status_code == 202 else {}
    name = f"{trip.label} {short(body.get('task_id') or body.get('group_id') or '')}"
    status = body.get("status_url") or body.get("result_url")
    if not status:
        report.fail(f"POST {trip.path} answered {answer.status_code}", answer.text[:200])
        return True
    report.ok(f"POST {trip.path} → 202, {name}")
    states: dict[str, list[str]] = {}
    started = time.monotonic()
    final = follow(context.client, [status], timeout, states=states)[status]
    elapsed, done = time.monotonic() - started, final.json()
    if final.status_code == 202:
        report.fail(
            f"{name} still {states[status][-1]} after {timeout:g} s",
            f"is a worker running? ({context.start_hint} starts it; `make ps` shows it)",
        )
        return False
    if trip.expect:
        key, expected = trip.expect
        if done.get(key) == expected:
            report.ok(f"{name} → {json.dumps(expected)} in {elapsed:.1f} s")
        else:
            report.fail(f"{name} gave {done}", f"expected {json.dumps(expected)}")
    elif done.get("state") == "SUCCESS":
        result = done["result"]
        report.ok(f"{name} SUCCESS in {elapsed:.1f} s{outcome(result)}")
        for problem in result.get("errors", []):  # a scrape's broken pages
            report.note(f"failed as it should, with its error on the dashboard: {problem['error']}")
    elif final.status_code == 404:
        report.fail(
            f"{name} answers 404 just after its 202", "the API does not know the id it gave"
        )
    else:
        report.fail(f"{name} {done.get('state')}", str(done.get("error")))
    return True


def outcome(result: dict) -> str:
    """What a finished task says of itself: where it ran, or what a scrape stored."""
    if "worker" in result:
        return f" on {result['worker']}"
    counts = ", ".join(f"{result[key]} {key}" for key in ("created", "updated", "failed"))
    return f": {result['found']} links, {counts}"


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


def beside_the_app(check):
    """Mark a check that does not ask the app anything (Flower, the demo blog): it still runs
    once the task API stopped answering."""
    check.beside_the_app = True
    return check
