"""`python -m workshop run step01`: start a step's processes with honcho and say how to try it.

Ctrl-C stops every process of the step.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess

import httpx
import psutil
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
    # honcho runs in its own session: Ctrl-C, a closed terminal (SIGHUP) or `kill` reach this
    # launcher only, and the launcher stops honcho, which stops the step's processes in order.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    stack = subprocess.Popen(
        [*honcho, "-p", str(port)], env=env_with_venv(), start_new_session=True
    )
    processes: list[psutil.Process] = []
    try:
        ready = wait_until(
            lambda: stack.poll() is not None or http_ok(f"http://127.0.0.1:{port}/health"),
            timeout=60,
            what=f"{step.name} answering on port {port}",
        )
        if stack.poll() is None and ready:
            # The web answers first; wait for our worker too, so the panel comes last.
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
            url, options = broker_url_for(health)
            wait_until(
                lambda: (
                    stack.poll() is not None or set(names) <= set(ping_workers(url, options, 1))
                ),
                timeout=60,
                what=f"{', '.join(names)} answering ping",
            )
        processes = descendants(stack.pid)
        if stack.poll() is None and ready:
            console.rule(f"[bold green]{step.name} is up: try it (Ctrl-C stops it)")
            make_port = "" if port == step.port else f" PORT={port}"
            for line in step.try_lines:
                text = line.format(port=port).replace(
                    f"make check-{step.name}", f"make check-{step.name}{make_port}"
                )
                console.print(text, highlight=False, markup=False)
            console.rule()
        stack.wait()
        return stack.returncode
    except TimeoutError as error:
        console.print(f"[red]{error}[/]: read the log lines above.")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        processes = processes or descendants(stack.pid)
        stop(stack, processes)
        with contextlib.suppress(BrokenPipeError):
            console.print(f"{step.name} stopped. Start it again with `make {step.name}`.")


def workers_already_running(services: CeleryServices, names: list[str]) -> list[str]:
    """Those of `names` that already answer ping on the chosen broker."""
    options = services.celery_config().get("broker_transport_options", {})
    try:
        answering = ping_workers(services.broker.url, options, timeout=1)
    except Exception:  # an unreachable broker is reported later, by the processes themselves
        return []
    return [name for name in names if name in answering]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop(honcho: subprocess.Popen, processes: list[psutil.Process]) -> None:
    """Stop the step's processes cleanly, then make sure none is left.

    honcho signals whole process groups, and a Celery worker's pool processes are in its group:
    they would die under the worker's feet. So each program (honcho -> honcho -> sh -c ->
    program) is asked first, workers before the rest (as soon as one program exits, honcho
    stops the others its own way); the worker then does its warm shutdown and stops its pool.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this
    try:
        programs = []  # each program with whether it has children (a worker and its pool)
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.parent().name() in ("sh", "dash", "bash"):
                    programs.append((not process.children(), process))
        programs = [program for _, program in sorted(programs, key=lambda p: p[0])]
        for program in programs:
            with contextlib.suppress(psutil.NoSuchProcess):
                program.terminate()
            psutil.wait_procs([program], timeout=15)
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
            try:
                honcho.wait(timeout=20)
            except subprocess.TimeoutExpired:
                honcho.kill()
        alive = [p for p in processes if p.is_running()]
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        _, still = psutil.wait_procs(alive, timeout=10)
        for process in still:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
    finally:
        signal.signal(signal.SIGINT, previous)
