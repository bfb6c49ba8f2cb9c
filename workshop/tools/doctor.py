"""`python -m workshop doctor`: what this machine has for the workshop, and how to get the rest."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys

import httpx
from rich.console import Console

from workshop import steps
from workshop.probe import find_binary, port_in_use
from workshop.settings import (
    DEFAULT_REDIS_URL,
    FIXES,
    PROGRAM_FIXES,
    ROOT,
    SERVER_NAMES,
    Settings,
    endpoint,
    reachable,
    safe_url,
    scheme,
)


def docker_engine() -> tuple[bool, str]:
    if shutil.which("docker") is None:
        return False, "no docker client"
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False, "`docker info` did not answer in 10 s"
    if done.returncode != 0:
        return False, "a docker client, but no engine answers"
    return True, "engine answers"


def management(broker_url: str) -> tuple[bool, str, str, str]:
    """RabbitMQ's management plugin: the web UI and HTTP API on port 15672, where the queues,
    their depth, unacknowledged messages and rates can be watched."""
    host = endpoint(broker_url)[0]
    url = f"http://{host}:15672/"
    try:
        answered = httpx.get(f"{url}api/overview", timeout=2).status_code in (200, 401)
    except httpx.HTTPError:
        answered = False
    detail = f"{url} (the guest account works from localhost)" if answered else "not enabled"
    fix = "`sudo rabbitmq-plugins enable rabbitmq_management`, then open " + url
    return answered, "RabbitMQ management UI (optional)", detail, fix


def operating_system(system: str | None = None) -> tuple[bool, str, str, str]:
    """Where Celery's default pool (prefork: fork()) runs as the workshop uses it."""
    system = system or platform.system()
    if system == "Windows":
        return (
            False,
            "Windows",
            "Celery does not support Windows since 4.0 (its FAQ); its prefork pool fails there",
            "use WSL 2 (Ubuntu) or the containers (make step01-docker); a worker started by hand "
            "on Windows needs --pool=solo or --pool=threads",
        )
    if system == "Darwin":
        return (
            True,
            "macOS",
            "prefork works; a task that crashes its pool process with `objc[...] ... when "
            "fork() was called` needs `export OBJC_DISABLE_INITIALIZE_FORK_SAFETY=YES` first",
            "",
        )
    return True, system, "Celery's prefork pool works as the workshop uses it", ""


# The Pythons the workshop's CI runs the tests on (.ci/run), oldest first.
TESTED = ((3, 11), (3, 12), (3, 13))


def python_version(version: tuple[int, ...] | None = None) -> tuple[bool, str, str, str]:
    """Whether this Python is one the workshop is tested on; what to do when it is not."""
    version = tuple(version or sys.version_info[:3])
    number = ".".join(map(str, version[:3]))
    tested = ", ".join(f"{major}.{minor}" for major, minor in TESTED)
    again = "then `rm -rf .venv && make setup PYTHON=python3.13`"
    if version[:2] < TESTED[0]:
        fix = f"install Python {tested}, {again}"
        return False, "Python", f"{number} is too old: the workshop needs 3.11 or newer", fix
    if version[:2] > TESTED[-1]:
        detail = f"{number} is newer than the workshop is tested on ({tested})"
        fix = f"it may work; if `make setup` or a step fails, install Python 3.13, {again}"
        return False, "Python", detail, fix
    return True, "Python", f"{number}, one the workshop is tested on ({tested})", ""


def rows() -> list[tuple[bool, str, str, str]]:
    """(present, what, detail, fix) for every piece the workshop can use."""
    settings = Settings()
    found = [operating_system(), python_version()]
    venv = (ROOT / ".venv").exists()
    found.append((venv, "virtualenv .venv", str(ROOT / ".venv"), "`make setup`"))
    for url in (
        settings.celery_broker_url,
        settings.celery_result_backend or DEFAULT_REDIS_URL,
        settings.database_url,
    ):
        host, port = endpoint(url) or ("-", 0)
        fix = FIXES[scheme(url)] + "; without it, WORKSHOP_MODE=auto uses the embedded default"
        detail = f"{safe_url(url)} ({host}:{port})"
        found.append((reachable(url), SERVER_NAMES[scheme(url)], detail, fix))
    if scheme(settings.celery_broker_url) == "amqp":
        found.append(management(settings.celery_broker_url))
    for step in steps.STEPS.values():
        for program, install in step.needs.items():
            path = find_binary(program)
            what = f"{program} ({step.name})"
            found.append((bool(path), what, path or "not installed", install))
    wrk = shutil.which("wrk")
    found.append(
        (
            bool(wrk),
            "wrk (make stress, make bench send their load with it)",
            wrk or "not installed: make stress and make bench need it",
            PROGRAM_FIXES["wrk"],
        )
    )
    engine, detail = docker_engine()
    found.append(
        (
            engine,
            "Docker engine (optional)",
            detail,
            "start a Docker engine for the container path, or ignore this: local runs need none",
        )
    )
    for step in steps.STEPS.values():
        for port, number in zip(step.ports, step.port_numbers().values(), strict=True):
            user = f"{step.name} ({port.label})"
            free = not port_in_use(number)
            found.append(
                (
                    free,
                    f"port {number} free",
                    user if free else f"in use; needed by {user}",
                    f"stop what listens on {number} (`ss -ltnp | grep {number}`), "
                    f"or set {port.variable} in .env",
                )
            )
    return found


def doctor(console: Console) -> int:
    console.print(f"[bold]workshop doctor[/] (WORKSHOP_MODE={Settings().workshop_mode})")
    found = rows()
    for present, what, detail, fix in found:
        if present:
            console.print(f"[green]✓[/] {what}: {detail}", highlight=False)
        else:
            console.print(f"[red]✗[/] {what}: {detail}\n    fix: {fix}", highlight=False)
    # Only a too-old Python stops the workshop; everything else has a fallback or a later step.
    return 1 if sys.version_info[:2] < TESTED[0] else 0
