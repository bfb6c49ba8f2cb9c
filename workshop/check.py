"""`python -m workshop check step01`: verify a RUNNING step hop by hop, one line per hop.

Every line is ✓ or ✗; a ✗ comes with a hint. The exit code is 1 when any line is ✗.
The test suite runs these same checks against the steps it starts.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import httpx
from rich.console import Console

from workshop.probe import broker_url_for, ping_workers, queue_depth
from workshop.settings import endpoint, reachable, safe_url, scheme
from workshop.stack02 import worker_names

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


def short(task_id: str) -> str:
    return task_id[:8] + "…"


def check_service(report: Report, role: str, info: dict) -> None:
    if info["embedded"]:
        report.ok(f"{role}: embedded default {info['url']} (no server needed)")
        return
    host, port = endpoint(info["url"]) or ("?", 0)
    kind = SERVER_NAMES.get(scheme(info["url"]), role)
    if reachable(info["url"], timeout=1):
        report.ok(f"{kind} reachable at {host}:{port}")
    else:
        report.fail(f"{kind} not reachable at {host}:{port}", "start it with `make services`")


def check_workers(report: Report, health: dict, expected: list[str], start_hint: str) -> None:
    """The step's own workers (by name) answer ping; other workers on the broker are mentioned."""
    url, options = broker_url_for(health)
    try:
        names = ping_workers(url, options, timeout=2)
    except Exception as error:  # any kombu/socket error means the same thing here
        report.fail(f"could not ping workers through {safe_url(url)} ({error})", start_hint)
        return
    host = socket.gethostname()
    wanted = [f"{name}@{host}" for name in expected]
    missing = [name for name in wanted if name not in names]
    others = sorted(set(names) - set(wanted))
    also = f" (also on this broker: {', '.join(others)})" if others else ""
    if not missing:
        plural = "worker answers" if len(wanted) == 1 else "workers answer"
        report.ok(f"{len(wanted)} Celery {plural} ping: {', '.join(wanted)}{also}")
    else:
        report.fail(
            f"no answer to ping from {', '.join(missing)} within 2 s{also}",
            f"is the worker running? ({start_hint} starts it)",
        )


def allow_for_backlog(report: Report, health: dict, timeout: float) -> float:
    """Tasks queue behind what already waits: say so, and wait for it (60 s at most)."""
    url, options = broker_url_for(health)
    waiting = queue_depth(url, options, os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery"))
    if not waiting:
        return timeout
    report.console.print(
        f"[blue]ⓘ[/] {waiting} messages already wait in the queue: the check's "
        "tasks come after them, so it waits up to 60 s",
        highlight=False,
    )
    return max(timeout, 60)


def check_task_api(report: Report, client: httpx.Client, timeout: float, start_hint: str) -> None:
    answer = client.post("/api/process_data", json={"seconds": 0.5, "from": "check"})
    if answer.status_code != 202 or "task_id" not in answer.json():
        report.fail(f"POST /api/process_data answered {answer.status_code}", answer.text[:200])
        return
    task_id = answer.json()["task_id"]
    report.ok(f"POST /api/process_data → 202, task {short(task_id)}")

    started = time.monotonic()
    state = "?"
    while time.monotonic() - started < timeout:
        body = client.get(f"/api/tasks/{task_id}").json()
        state = body.get("state", "?")
        if state in ("SUCCESS", "FAILURE"):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    if state == "SUCCESS":
        worker = body["result"].get("worker", "?")
        report.ok(f"task {short(task_id)} SUCCESS in {elapsed:.1f} s on {worker}")
    elif state == "FAILURE":
        report.fail(f"task {short(task_id)} FAILURE", str(body.get("error")))
    else:
        report.fail(
            f"task {short(task_id)} still {state} after {timeout:g} s",
            f"is a worker running? ({start_hint} starts one)",
        )

    unknown = client.get(f"/api/tasks/{uuid.uuid4()}")
    if unknown.status_code == 404:
        report.ok("an id that was never submitted gets 404, not a fake PENDING")
    else:
        report.fail(f"an unknown task id got {unknown.status_code}", "expected 404")

    bad = client.post(
        "/api/process_data", content="{json}", headers={"Content-Type": "application/json"}
    )
    is_json = bad.headers.get("content-type", "").startswith("application/json")
    if bad.status_code == 400 and is_json:
        report.ok("a body that is not JSON gets a 400 JSON error")
    else:
        report.fail(f"the body {{json}} got {bad.status_code}", "expected a 400 JSON error")


def check_step01(base_url: str, timeout: float, console: Console) -> int:
    report = Report(console)
    start_hint = "make step01"
    with httpx.Client(base_url=base_url, timeout=5) as client:
        try:
            answer = client.get("/health")
            health = answer.json()
            if "broker" not in health:
                raise ValueError(f"{answer.status_code} {health}")
        except (httpx.HTTPError, ValueError) as error:
            report.fail(
                f"Flask does not answer at {base_url}/health ({error})",
                f"is the step running? (`{start_hint}`)",
            )
            return 1
        mode = "embedded default" if health["embedded"] else "real services"
        report.ok(f"Flask answers at {base_url} ({mode}, WORKSHOP_MODE={health['mode']})")
        check_service(report, "broker", health["broker"])
        check_service(report, "result backend", health["result_backend"])
        worker = os.environ.get("WORKER_NAME", "worker1")
        check_workers(report, health, [worker], start_hint=start_hint)
        try:
            timeout = allow_for_backlog(report, health, timeout)
            check_task_api(report, client, timeout, start_hint)
        except (httpx.HTTPError, ValueError, KeyError) as error:
            report.fail(
                f"the task API stopped answering ({error!r})",
                f"is the step still running? (`{start_hint}`)",
            )
    return 1 if report.failed else 0


CHECKS = {"step01": check_step01}


def gunicorn_processes(port: int) -> tuple[int | None, list[int]]:
    """(master pid, worker pids) of the Gunicorn that listens on `port`."""
    import psutil

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


def check_step02(base_url: str, timeout: float, console: Console) -> int:
    import concurrent.futures

    from workshop.stack02 import Ports

    report = Report(console)
    start_hint = "make step02"
    ports = Ports.from_env()
    with httpx.Client(base_url=base_url, timeout=5) as client:
        try:
            answer = client.get("/health")
            health = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            report.fail(
                f"Nginx does not answer at {base_url}/health ({error})",
                f"is the step running? (`{start_hint}`)",
            )
            return 1
        request_id = answer.headers.get("x-request-id", "")
        if answer.headers.get("server") == "nginx" and len(request_id) == 32:
            report.ok(f"Nginx answers at {base_url} (request id {request_id[:8]}…, no version)")
        else:
            report.fail(
                f"{base_url} did not answer like step 2's Nginx "
                f"(Server: {answer.headers.get('server')!r})",
                "is it step 2 on this port?",
            )

        master, workers = gunicorn_processes(ports.gunicorn)
        expected = int(os.environ.get("GUNICORN_WORKERS", (os.cpu_count() or 1) + 1))
        if master and len(workers) == expected:
            report.ok(
                f"Gunicorn master (pid {master}) with {len(workers)} workers on "
                f"port {ports.gunicorn}"
            )
        elif master is None:
            report.fail(
                f"no Gunicorn listens on port {ports.gunicorn}",
                "is it running? (`make ps`; .run/step02/logs/gunicorn.log says why not)",
            )
        else:
            report.fail(
                f"Gunicorn on port {ports.gunicorn}: master {master}, "
                f"{len(workers)} workers (expected {expected})",
                "read .run/step02/logs/gunicorn.log",
            )
        if answer.status_code != 200 or "broker" not in health:
            report.fail(
                f"/health through Nginx answered {answer.status_code}: {health.get('message', '')}",
                "the app behind Nginx does not answer",
            )
            return 1
        check_service(report, "broker", health["broker"])
        check_service(report, "result backend", health["result_backend"])
        check_workers(report, health, worker_names(), start_hint=start_hint)

        try:
            timeout = allow_for_backlog(report, health, timeout)

            # Six tasks at once: two workers with two pool processes each must share them.
            def submit(number: int) -> str:
                return client.post(
                    "/api/process_data", json={"seconds": 0.5, "from": "check", "n": number}
                ).json()["task_id"]

            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                ids = list(pool.map(submit, range(6)))
            report.ok(f"6 requests through Nginx → 202 (first task {short(ids[0])})")
            done = wait_tasks(client, ids, timeout)
            if len(done) == len(ids):
                report.ok(f"all 6 tasks SUCCESS within {timeout:g} s")
            else:
                report.fail(
                    f"{len(ids) - len(done)} of 6 tasks not done after {timeout:g} s",
                    f"are the workers running? ({start_hint} starts them)",
                )
            spread = {}
            for result in done.values():
                spread[result["worker"]] = spread.get(result["worker"], 0) + 1
            text = ", ".join(f"{name} {count}" for name, count in sorted(spread.items()))
            if len(spread) >= 2:
                report.ok(f"{len(spread)} workers took tasks: {text}")
            else:
                report.fail(
                    f"only one worker took tasks ({text})",
                    "is the second worker running? (`make ps`)",
                )
            too_big = client.post(
                "/api/process_data",
                content=b"x" * (2 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            )
            if too_big.status_code == 413 and too_big.headers.get("content-type", "").startswith(
                "application/json"
            ):
                report.ok("a 2 MB body gets a JSON 413 from Nginx")
            else:
                report.fail(f"a 2 MB body got {too_big.status_code}", "expected a JSON 413")
        except (httpx.HTTPError, ValueError, KeyError) as error:
            report.fail(
                f"the task API stopped answering ({error!r})",
                f"is the step still running? (`{start_hint}`)",
            )
    try:
        flower = httpx.get(f"http://127.0.0.1:{ports.flower}/", timeout=5)
        if flower.status_code == 401:
            report.ok(f"Flower answers on port {ports.flower} and asks for a password")
        else:
            report.fail(
                f"Flower on port {ports.flower} answered {flower.status_code}",
                "it must ask for a password (FLOWER_BASIC_AUTH)",
            )
    except httpx.HTTPError as error:
        report.fail(
            f"Flower does not answer on port {ports.flower} ({error})",
            "read .run/step02/logs/flower.log",
        )
    return 1 if report.failed else 0


def wait_tasks(client: httpx.Client, ids: list[str], timeout: float) -> dict[str, dict]:
    """The results of the tasks that finished within `timeout` seconds."""
    done: dict[str, dict] = {}
    started = time.monotonic()
    while len(done) < len(ids) and time.monotonic() - started < timeout:
        for task_id in ids:
            if task_id not in done:
                body = client.get(f"/api/tasks/{task_id}").json()
                if body["state"] == "SUCCESS":
                    done[task_id] = body["result"]
        if len(done) < len(ids):
            time.sleep(0.2)
    return done


CHECKS["step02"] = check_step02
