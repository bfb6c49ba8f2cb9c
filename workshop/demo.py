"""`make demo` (python -m workshop demo): step 2 in front of a room, start to finish.

Starts the stack (unless it already runs), sends 50 requests with a progress bar, shows how the
tasks spread over the two workers and one request's hop-by-hop timeline, then stops the stack.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import httpx
from rich.console import Console

from workshop.procs import port_in_use, wait_until
from workshop.settings import ROOT, Settings
from workshop.stack02 import Paths, Ports


def demo(requests: int, console: Console) -> int:
    ports = Ports.from_env()
    launcher = None
    try:
        if port_in_use(ports.nginx):
            console.print(f"Step 2 already answers on port {ports.nginx}: the demo uses it.")
        else:
            launcher = start_stack(console)
            if launcher is None:
                return 1
        return show_the_stack(requests, ports, console)
    except KeyboardInterrupt:
        console.print("Interrupted.")
        return 130
    finally:
        if launcher is not None:  # whatever happened above, the stack the demo started stops
            console.rule("5. Stop everything")
            stop(launcher)
            console.print("Stopped.")


def start_stack(console: Console) -> subprocess.Popen | None:
    console.rule("1. Start the stack: Nginx, Gunicorn, 2 Celery workers, Flower")
    log = Settings().workshop_run_dir / "demo-stack.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "workshop", "run", "step02"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with contextlib.suppress(TimeoutError):
            wait_until(
                lambda: launcher.poll() is not None or "is up" in log.read_text(),
                timeout=120,
                what="step 2 starting",
            )
    except BaseException:
        stop(launcher)
        raise
    if launcher.poll() is not None or "is up" not in log.read_text():
        console.print(f"[red]✗ step 2 did not start[/]: read {log}")
        stop(launcher)
        return None
    console.print(f"Stack is up (its log: {log}).")
    return launcher


def show_the_stack(requests: int, ports: Ports, console: Console) -> int:
    from workshop.ps import ps_command
    from workshop.stress import stress
    from workshop.trace import show, wait_for

    console.rule("2. The processes: masters and workers")
    ps_command(console)
    console.rule(f"3. {requests} requests through Nginx, 20 at a time")
    code, report = stress(requests, 20, "nginx", 0.2, False, console)
    if report.accepted:
        console.rule("4. One request, hop by hop")
        show(wait_for(report.accepted[-1].task_id, Paths.current()), console)
    health = httpx.get(f"http://127.0.0.1:{ports.nginx}/health", timeout=5).json()
    console.print(
        f"Broker {health['broker']['url']}, results {health['result_backend']['url']}",
        highlight=False,
    )
    return code


def stop(launcher: subprocess.Popen) -> None:
    """What Ctrl-C does: the launcher stops supervisord, which stops every process.

    A second Ctrl-C while this runs does not cut it short: the stack must not be left behind."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGINT)
            try:
                launcher.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
    finally:
        signal.signal(signal.SIGINT, previous)
