"""`make demo` (python -m workshop demo): a step in front of a room, start to finish (step 2).

Starts the step (unless it already runs) and its live view (`make live`, for the projector),
shows its processes, sends 50 requests with a progress bar, shows how the tasks spread over the
workers and one request's hop-by-hop timeline, kills a worker in the middle of its tasks
(supervisord starts it again) and shows where they ran, then stops what it started.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys

import httpx
import psutil
from rich.console import Console

from workshop.environment import VENV_BIN, StepEnvironment
from workshop.launcher.background import Background
from workshop.launcher.processes import signals_held, stop_on_signals, stop_tree
from workshop.probe import celery_app, port_in_use
from workshop.settings import ROOT
from workshop.waiting import follow, wait_until


def demo(env: StepEnvironment, requests: int, console: Console) -> int:
    step, port = env.step, env.ports[env.step.main_port.name]
    stack = view = None
    stop_on_signals()  # `kill` or a closed terminal stops what the demo started, like Ctrl-C
    try:
        if port_in_use(port):
            console.print(f"{step.name} already answers on port {port}: the demo uses it.")
        else:
            console.rule(f"1. Start {step.name}: {step.title}")
            log = env.settings.workshop_run_dir / f"demo-{step.name}.log"
            stack = Background.step(step.name, log)
            if not stack.start():
                console.print(f"[red]✗ {step.name} did not start[/]: read {log}")
                return 1
            console.print(f"{step.name} is up (its log: {log}).")
        view = live_view(env, console)
        return show_the_step(env, requests, port, console)
    except KeyboardInterrupt:
        console.print("Interrupted.")
        return 130
    finally:
        if view is not None:  # the live view the demo started stops with it
            stop_tree(view, signal.SIGINT, 10)
        if stack is not None:  # whatever happened above, the step the demo started stops
            console.rule("6. Stop everything")
            _, left = stack.interrupt()
            console.print(f"Stopped{f' ({len(left)} processes had to be killed)' if left else ''}.")


def show_the_step(env: StepEnvironment, requests: int, port: int, console: Console) -> int:
    from workshop.tools.ps import print_tree
    from workshop.tools.stress import stress
    from workshop.tools.trace import Paths, print_timeline, wait_for

    step = env.step
    console.rule("2. The processes: masters and workers")
    print_tree(step, console)
    front = step.port(step.task_api.targets[0]).label
    console.rule(f"3. {requests} requests through {front}, 20 at a time")
    code, run = stress(env, requests, 20, None, 0.2, False, console)
    if run and run.accepted and step.tracing:
        console.rule("4. One request, hop by hop")
        print_timeline(wait_for(run.accepted[-1], Paths.of(step, env.settings)), console)
    if code == 0 and step.runner == "supervisord" and len(step.workers()) > 1:
        console.rule("5. A worker killed in the middle of its tasks")
        code = kill_a_worker(env, port, console)
    health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    console.print(
        f"Broker {health['broker']['url']}, results {health['result_backend']['url']}",
        highlight=False,
    )
    return code


def live_view(env: StepEnvironment, console: Console) -> subprocess.Popen | None:
    """`make live` in the background, for the projector; None when one already answers (or it
    could not start: the demo goes on without it)."""
    port = env.settings.live_port
    url = f"http://localhost:{port}"
    if port_in_use(port):
        console.print(f"The live view already answers at {url}: open it on the projector.")
        return None
    log = env.settings.workshop_run_dir / "demo-live.log"
    with log.open("wb") as out, signals_held():
        view = subprocess.Popen(  # a session of its own: Ctrl-C reaches the demo, which stops it
            [sys.executable, "-m", "workshop", "live", "--step", env.step.name],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: view.poll() is not None or port_in_use(port), 20, what="the live view")
    if view.poll() is not None or not port_in_use(port):
        console.print(f"[yellow]The live view did not start[/] (read {log}): the demo goes on.")
        stop_tree(view, signal.SIGINT, 5)
        return None
    console.print(f"[bold]The live view: {url}[/] (open it on the projector now)")
    return view


def supervisorctl(env: StepEnvironment, *args: str) -> str:
    conf = env.run_dir / "supervisord.conf"
    done = subprocess.run(
        [str(VENV_BIN / "supervisorctl"), "-c", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout


def kill_a_worker(env: StepEnvironment, port: int, console: Console, tasks: int = 4) -> int:
    """Tasks of 2 s; worker1 and its pool processes SIGKILLed while it runs some, as a machine
    that dies. RabbitMQ delivers its unacknowledged messages again (acks late), supervisord
    starts it again: every task finishes, some of them on the other worker."""
    program, worker = "worker1", env.worker_names()[0]
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=10) as client:
        urls = []
        for _ in range(tasks):
            answer = client.post("/api/process_data", json={"seconds": 2})
            urls.append(answer.json()["status_url"].replace(f"http://localhost:{port}", base))
        app = celery_app(env.variables.get("CELERY_BROKER_URL", env.settings.celery_broker_url))
        try:
            wait_until(
                lambda: (app.control.inspect([worker], timeout=1).active() or {}).get(worker),
                20,
                what=f"{worker} running a task",
            )
        except TimeoutError:
            console.print(f"[red]✗ {worker} ran none of the {tasks} tasks in 20 s[/]")
            return 1
        finally:
            app.close()
        pid = int(supervisorctl(env, "pid", program).strip() or 0)
        main = psutil.Process(pid)
        for process in [main, *main.children()]:
            process.kill()
        console.print(
            f"{worker} (pid {pid}) and its pool processes killed with SIGKILL, in the middle of "
            "their tasks: their messages go back to the queue (the live view marks them "
            "redelivered)."
        )

        def restarted() -> int | None:
            status = re.search(r"RUNNING\s+pid (\d+)", supervisorctl(env, "status", program))
            return status and int(status.group(1)) != pid and int(status.group(1))

        try:
            again = wait_until(restarted, 30, what=f"supervisord restarting {program}")
            console.print(f"supervisord started {program} again: pid {again}.")
        except TimeoutError:
            console.print(f"[red]✗ supervisord did not start {program} again in 30 s[/]")
        answers = follow(client, urls, 40)
    ran = [a.json().get("result", {}).get("worker", "?") for a in answers.values()]
    done = [a for a in answers.values() if a.json().get("state") == "SUCCESS"]
    console.print(
        f"{len(done)} of {tasks} tasks SUCCESS, run by: {', '.join(ran)}. Nothing lost."
        if len(done) == tasks
        else f"[red]✗ {tasks - len(done)} of {tasks} tasks not done after 40 s[/]"
    )
    return 0 if len(done) == tasks else 1
