"""`python -m workshop run stepNN` (what `make stepNN` runs): start a step, say how to try it,
follow its logs, and stop every process it started on Ctrl-C, SIGTERM or a closed terminal.

One `run()` for every step, driven by its declaration (workshop/steps/): preflight (programs,
ports, services, worker names), prepare, start, wait until every program is ready, print the
"try it" lines, follow the logs, stop.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import threading
import time
from pathlib import Path
from string import Template

from rich.console import Console

from workshop import steps
from workshop.environment import StepEnvironment, environment
from workshop.launcher.processes import descendants, signals_held, stop_on_signals
from workshop.launcher.runners import RUNNERS
from workshop.probe import (
    celery_app,
    find_binary,
    http_ok,
    ping_workers,
    port_in_use,
    transport_options,
)
from workshop.registry import Http, Step
from workshop.services import ServiceUnavailable, print_banner
from workshop.settings import ROOT, safe_url
from workshop.waiting import wait_until

READY_TIMEOUT = 90  # seconds for every program to answer, from the start


class Refused(Exception):
    """The step cannot start: the message says why and what to do."""


def run(step: Step, console: Console) -> int:
    try:
        env = preflight(step)
    except Refused as refusal:
        console.print(f"[red]{refusal}[/]")
        return 1
    ports, run_dir = env.ports, env.run_dir
    render_templates(step, run_dir, env.processes())
    console.print(
        f"[bold]{step.name}: {step.title}[/] on http://localhost:{ports[step.main_port.name]}"
    )
    for service in env.services.servers():
        console.print(f"  {service.role + ':':15} {service.shown()}", highlight=False)
    if not run_before(step, env.processes(), console):
        return 1

    runner = RUNNERS[step.runner](step, run_dir, env.processes(), ports[step.main_port.name])
    runner.prepare()
    # Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP) all stop the step. The runner has
    # a session of its own: only this launcher gets the signal, and it stops the runner.
    stop_on_signals()
    pid_file = run_dir / "run.pid"  # read by `make ps`
    follow, top, code, edits = runner.follow(), None, 1, None
    known = []  # the processes seen once all were up: the stop finds even orphans among them
    try:
        if follow:
            follow.start()
        with signals_held():  # a signal now stops the runner once we know its pid
            top = runner.start()
        pid_file.write_text(str(top.pid))
        if wait_ready(env, top, console):
            known = descendants(top.pid)
            if follow:
                follow.poll()  # the log lines so far, then the panel
            print_try_it(env, console)
            edits = Edits.for_exercise(step, console)
            # Until a program stops them all (honcho), or Ctrl-C. During an exercise, a saved
            # file starts the programs again, with the code as it is now, even after a crash.
            while (code := top.poll()) is None or edits:
                if edits and edits.seen():
                    render_templates(step, run_dir, env.processes())
                    top = runner.restart(top) if code is None else runner.start()
                    pid_file.write_text(str(top.pid))
                    known = descendants(top.pid)
                elif code is not None and not edits.said_stopped:
                    console.print("[red]The programs stopped[/]: save a file to start them again.")
                    edits.said_stopped = True
                time.sleep(0.5)
    except KeyboardInterrupt:
        code = 0
    finally:
        if edits:
            edits.close()
        if top is not None:
            runner.stop(top, known or descendants(top.pid))
        pid_file.unlink(missing_ok=True)
        if follow:
            follow.stop()
        with contextlib.suppress(BrokenPipeError):  # the terminal may be gone
            console.print(f"{step.name} stopped. Start it again with `make {step.name}`.")
    return code


class Edits:
    """Saves of the lesson files, while an exercise is started (`make exercise EX=...`): the
    step's programs must run the learner's code, not the code they started with."""

    def __init__(self, folders: list[Path], console: Console):
        from watchfiles import watch

        self.folders, self.console = folders, console
        self.changed: set[str] = set()
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.said_stopped = False

        def collect() -> None:
            lesson = lambda _, path: Path(path).suffix in (".py", ".conf", ".html")  # noqa: E731
            for changes in watch(*folders, watch_filter=lesson, stop_event=self.stop):
                with self.lock:
                    self.changed |= {Path(path).name for _, path in changes}

        threading.Thread(target=collect, daemon=True).start()

    @classmethod
    def for_exercise(cls, step: Step, console: Console) -> Edits | None:
        from workshop.exercises import all_exercises, load

        current = all_exercises().get(load().get("current", ""))
        if current is None:
            return None
        folders = {step.path, *(ROOT / Path(name).parts[0] for name in current[1].files)}
        console.print(
            f"Exercise {current[1].id} is started: {step.name} restarts its programs when you "
            "save a file.",
            highlight=False,
        )
        return cls(sorted(folders), console)

    def seen(self) -> bool:
        """True, and said, when files changed since the last call."""
        with self.lock:
            names, self.changed = sorted(self.changed), set()
        if names:
            self.console.print(f"[yellow]{', '.join(names)} changed: restarting the programs.[/]")
            self.said_stopped = False
        return bool(names)

    def close(self) -> None:
        self.stop.set()


def preflight(step: Step) -> StepEnvironment:
    """Everything that can be known before starting; the processes' environment."""
    for program, install in step.needs.items():
        if find_binary(program) is None:
            raise Refused(
                f"{program} is not installed. {step.name} runs the ordinary {program} "
                f"binary: {install}."
            )
    for port, number in zip(step.ports, step.port_numbers().values(), strict=True):
        if port_in_use(number):
            free = free_port_near(number)
            fix = (
                f"make {step.name} PORT={free}"
                if port is step.main_port
                else f"{port.variable}={free} make {step.name}"
            )
            which = f" ({port.label})" if len(step.ports) > 1 else ""
            raise Refused(
                f"Port {number}{which} is already in use. Is `make {step.name}` "
                f"already running in another terminal? Stop it with Ctrl-C, or pick another "
                f"port: `{fix}`."
            )
    try:
        env = environment(step)
    except ServiceUnavailable as error:
        raise Refused(str(error)) from None
    print_banner(env.services)
    try:
        if env.services.broker_folder is not None:
            for folder in ("messages", "control"):
                (env.services.broker_folder / folder).mkdir(parents=True, exist_ok=True)
        create_result_tables(env.services.backend.url)
    except Exception as error:  # a database that refuses us: say which one, and why
        raise Refused(
            f"Could not prepare the result tables at {safe_url(env.services.backend.url)}: {error}"
        ) from None
    clash = workers_already_running(env)
    if clash:
        variables = {v.upper() for ping in step.workers() for v in ping.variables()}
        rename = f", or set {', '.join(sorted(variables))}" if variables else ""
        raise Refused(
            f"A worker named {', '.join(clash)} already answers on this broker. Two workers "
            f"with one name break each other: stop the other step first (Ctrl-C in its "
            f"terminal){rename}."
        )
    return env


def free_port_near(port: int) -> int:
    """A free port a little above `port` that no step or server of the workshop uses."""
    taken = steps.reserved_ports()
    return next(p for p in range(port + 10, port + 200) if p not in taken and not port_in_use(p))


def create_result_tables(backend_url: str) -> None:
    """Celery's SQL result tables, created once, before several processes race to create them."""
    if not backend_url.startswith("db+"):
        return
    celery_app("memory://", backend_url, result_extended=True).backend.ResultSession().close()


def run_before(step: Step, env: dict[str, str], console: Console) -> bool:
    """The step's one-off commands (migrations), in order; False when one of them failed."""
    for command in step.before:
        console.print(f"  $ {command}", highlight=False)
        try:
            done = subprocess.run(
                shlex.split(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            console.print(f"[red]`{command}` could not run: {error}[/]")
            return False
        if done.returncode != 0:
            console.print(done.stdout + done.stderr, highlight=False, markup=False)
            code = done.returncode
            console.print(f"[red]`{command}` failed (exit {code}): read the lines above.[/]")
            return False
    return True


def render_templates(step: Step, run_dir: Path, env: dict[str, str]) -> None:
    """Fill each template's ${NAME}s from the processes' environment, as envsubst would; Nginx's
    own $variables stay as they are (safe_substitute)."""
    for target, source in step.templates.items():
        path = run_dir / target
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Template((step.path / source).read_text()).safe_substitute(env)
        path.write_text(text)


def answering(env: StepEnvironment, names: list[str]) -> set[str]:
    """Those of the workers `names` that answer ping on the chosen broker within a second."""
    broker = env.services.broker.url
    return set(ping_workers(broker, transport_options(env.variables), 1, only=names))


def workers_already_running(env: StepEnvironment) -> list[str]:
    """The step's worker names that already answer ping on the chosen broker."""
    names = env.worker_names()
    try:
        found = answering(env, names)
    except Exception:  # an unreachable broker is reported later, by the processes themselves
        return []
    return [name for name in names if name in found]


def wait_ready(env: StepEnvironment, top: subprocess.Popen, console: Console) -> bool:
    """Until every program answers: HTTP on its port, or ping for a Celery worker."""
    step, ports, names = env.step, env.ports, env.worker_names()
    waiting = [p.ready for p in step.programs if isinstance(p.ready, Http)]

    def ready() -> bool:
        if top.poll() is not None:
            raise RuntimeError(f"{step.runner} exited ({top.returncode})")
        for check in list(waiting):  # each web program once, in order
            if not http_ok(f"http://127.0.0.1:{ports[check.port]}{check.path}"):
                return False
            waiting.remove(check)
        return not names or set(names) <= answering(env, names)

    try:
        wait_until(ready, READY_TIMEOUT, interval=0.2, what=f"every program of {step.name} up")
    except (TimeoutError, RuntimeError) as error:
        console.print(f"[red]{error}[/]: read the log lines above.")
        return False
    return True


def print_try_it(env: StepEnvironment, console: Console) -> None:
    """The step's "try it" lines, with its ports, paths and Flower's login filled in."""
    step, main = env.step, env.step.main_port
    port = int(env.variables[main.variable])
    user, _, password = env.variables.get("FLOWER_BASIC_AUTH", "").partition(":")
    random = "FLOWER_BASIC_AUTH" not in env.base
    shown = {
        **env.variables,
        "PORT_ARG": "" if port == main.default else f" PORT={port}",
        "FLOWER_USER": user,
        "FLOWER_PASSWORD": password,
        "FLOWER_NOTE": " (random: set FLOWER_BASIC_AUTH=user:password in .env to choose)"
        if random
        else "",
    }
    console.rule(f"[bold green]{step.name} is up: try it (Ctrl-C stops it)")
    for line in step.try_lines:
        console.print(line.format(**shown), highlight=False, markup=False)
    console.rule()
