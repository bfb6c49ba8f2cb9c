"""`python -m workshop run step01`: start a step's processes with honcho and say how to try it.

Ctrl-C stops every process of the step.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
from rich.console import Console

from workshop.probe import broker_url_for, ping_workers
from workshop.procs import VENV_BIN, env_with_venv, http_ok, port_in_use, wait_until
from workshop.settings import (
    ROOT,
    CeleryServices,
    ServiceUnavailable,
    celery_services,
    export_choice,
    safe_url,
)
from workshop.steps import STEPS


def run(step_name: str, port: int | None, console: Console) -> int:
    if step_name == "step02":
        from workshop.run02 import run_step02

        return run_step02(port, console)
    step = STEPS[step_name]
    port = port or step.port
    if port_in_use(port):
        console.print(
            f"[red]Port {port} is already in use.[/] Is `make {step.name}` already running in "
            f"another terminal? Stop it with Ctrl-C, or pick another port: "
            f"`make {step.name} PORT={port + 10}`."
        )
        return 1
    try:
        services = celery_services()
    except ServiceUnavailable as error:
        console.print(f"[red]{error}[/]")
        return 1
    # The web app and the worker must use the same broker, whatever happens while they start.
    export_choice(services)
    names = [f"{os.environ.get('WORKER_NAME', 'worker1')}@{socket.gethostname()}"]
    if clash := workers_already_running(services, names):
        console.print(
            f"[red]A worker named {', '.join(clash)} already answers on this broker.[/] "
            "Two workers with one name break each other: stop the other step first "
            "(Ctrl-C in its terminal), or set WORKER_NAME."
        )
        return 1

    console.print(f"[bold]{step.name}: {step.title}[/] on http://localhost:{port}")
    console.print(f"  broker:         {safe_url(services.broker.url)}", highlight=False)
    console.print(f"  result backend: {safe_url(services.backend.url)}", highlight=False)

    honcho = [str(VENV_BIN / "honcho"), "-f", str(step.procfile), "-d", str(ROOT), "start"]
    stack = subprocess.Popen([*honcho, "-p", str(port)], env=env_with_venv())
    try:
        ready = wait_until(
            lambda: stack.poll() is not None or http_ok(f"http://127.0.0.1:{port}/health"),
            timeout=60,
            what=f"{step.name} answering on port {port}",
        )
        if stack.poll() is None and ready:
            # The web answers first; wait for the worker too, so the panel is the last thing shown.
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
            url, options = broker_url_for(health)
            wait_until(
                lambda: stack.poll() is not None or ping_workers(url, options, 1),
                timeout=60,
                what=f"a {step.name} worker answering ping",
            )
        if stack.poll() is None and ready:
            console.rule(f"[bold green]{step.name} is up: try it (Ctrl-C stops it)")
            make_port = "" if port == step.port else f" PORT={port}"
            for line in step.try_lines:
                text = line.format(port=port).replace(
                    f"make check-{step.name}", f"make check-{step.name}{make_port}"
                )
                console.print(text, highlight=False, markup=False)
            console.rule()
        return stack.wait()
    except TimeoutError as error:
        console.print(f"[red]{error}[/]: read the log lines above.")
        stack.terminate()
        return stack.wait(timeout=20)
    except KeyboardInterrupt:
        # The terminal sent Ctrl-C to honcho too; give it time to stop its processes.
        try:
            stack.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stack.kill()
            return 130
        console.print(f"{step.name} stopped. Start it again with `make {step.name}`.")
        return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], None, Console(soft_wrap=True)))


def workers_already_running(services: CeleryServices, names: list[str]) -> list[str]:
    """Those of `names` that already answer ping on the chosen broker."""
    from workshop.settings import filesystem_transport_options, scheme

    options = {}
    if scheme(services.broker.url) == "filesystem":
        options = filesystem_transport_options(services.run_dir)
    try:
        answering = ping_workers(services.broker.url, options, timeout=1)
    except Exception:  # an unreachable broker is reported later, by the processes themselves
        return []
    return [name for name in names if name in answering]
