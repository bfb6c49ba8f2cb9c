"""`make demo` (python -m workshop demo): a step in front of a room, start to finish (step 2).

Starts the step (unless it already runs), shows its processes, sends 50 requests with a progress
bar, shows how the tasks spread over the workers and one request's hop-by-hop timeline, then
stops what it started.
"""

from __future__ import annotations

import httpx
from rich.console import Console

from workshop.environment import StepEnvironment
from workshop.launcher.background import Background
from workshop.launcher.processes import stop_on_signals
from workshop.probe import port_in_use


def demo(env: StepEnvironment, requests: int, console: Console) -> int:
    step, port = env.step, env.ports[env.step.main_port.name]
    stack = None
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
        return show_the_step(env, requests, port, console)
    except KeyboardInterrupt:
        console.print("Interrupted.")
        return 130
    finally:
        if stack is not None:  # whatever happened above, the step the demo started stops
            console.rule("5. Stop everything")
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
    health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    console.print(
        f"Broker {health['broker']['url']}, results {health['result_backend']['url']}",
        highlight=False,
    )
    return code
