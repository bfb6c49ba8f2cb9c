"""`python -m workshop run stepNN` (what `make stepNN` runs): start a step, say how to try it,
follow its logs, and stop every process it started on Ctrl-C, SIGTERM or a closed terminal.

One `run()` for every step, driven by its declaration (workshop/steps/): preflight (programs,
ports, services, worker names), prepare, start, wait until every program is ready, print the
"try it" lines, follow the logs, stop.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from string import Template

from celery.utils.imports import symbol_by_name
from rich.console import Console

from workshop import steps
from workshop.launcher.processes import (
    VENV_BIN,
    descendants,
    env_with_venv,
    signals_held,
    stop_on_signals,
)
from workshop.launcher.runners import RUNNERS
from workshop.probe import find_binary, http_ok, ping_workers, port_in_use
from workshop.registry import Http, Step
from workshop.settings import (
    DEFAULT_REDIS_URL,
    ROOT,
    CeleryServices,
    ServiceUnavailable,
    celery_services,
    export_choice,
    print_banner,
    safe_url,
)
from workshop.waiting import wait_until

READY_TIMEOUT = 90  # seconds for every program to answer, from the start


class Refused(Exception):
    """The step cannot start: the message says why and what to do."""


def run(step: Step, console: Console) -> int:
    try:
        services, env = preflight(step)
    except Refused as refusal:
        console.print(f"[red]{refusal}[/]")
        return 1
    settings = steps.settings(step)
    ports = steps.ports(step, settings)
    run_dir = step.run_dir(settings)
    render_templates(step, run_dir, env)
    console.print(
        f"[bold]{step.name}: {step.title}[/] on http://localhost:{ports[step.main_port.name]}"
    )
    for service in services.servers():
        console.print(f"  {service.role + ':':15} {service.shown()}", highlight=False)
    if not run_before(step, env, console):
        return 1

    runner = RUNNERS[step.runner](step, run_dir, env, ports[step.main_port.name])
    runner.prepare()
    # Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP) all stop the step. The runner has
    # a session of its own: only this launcher gets the signal, and it stops the runner.
    stop_on_signals()
    pid_file = run_dir / "run.pid"  # read by `make ps`
    follow, top, code = runner.follow(), None, 1
    known = []  # the processes seen once all were up: the stop finds even orphans among them
    try:
        if follow:
            follow.start()
        with signals_held():  # a signal now stops the runner once we know its pid
            top = runner.start()
        pid_file.write_text(str(top.pid))
        if wait_ready(step, top, ports, services, console):
            known = descendants(top.pid)
            if follow:
                follow.poll()  # the log lines so far, then the panel
            print_try_it(step, env, console)
            code = top.wait()  # until a program stops them all (honcho), or Ctrl-C
    except KeyboardInterrupt:
        code = 0
    finally:
        if top is not None:
            runner.stop(top, known or descendants(top.pid))
        pid_file.unlink(missing_ok=True)
        if follow:
            follow.stop()
        with contextlib.suppress(BrokenPipeError):  # the terminal may be gone
            console.print(f"{step.name} stopped. Start it again with `make {step.name}`.")
    return code


def preflight(step: Step) -> tuple[CeleryServices, dict[str, str]]:
    """Everything that can be known before starting; the processes' environment."""
    for program, install in step.needs.items():
        if find_binary(program) is None:
            raise Refused(
                f"{program} is not installed. {step.name} runs the ordinary {program} "
                f"binary: {install}."
            )
    settings = steps.settings(step)
    for port in step.ports:
        number = step.port_numbers(settings)[port.name]
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
    if step.prepare:
        symbol_by_name(step.prepare)()
    try:
        # Writes any fallback back into the environment.
        services = celery_services(step.result_backend or DEFAULT_REDIS_URL, step.database)
    except ServiceUnavailable as error:
        raise Refused(str(error)) from None
    print_banner(services, file=sys.stdout)
    try:
        services.celery_config()  # creates .run/ when the embedded default needs it
        create_result_tables(services.backend.url)
    except Exception as error:  # a database that refuses us: say which one, and why
        raise Refused(
            f"Could not prepare the result tables at {safe_url(services.backend.url)}: {error}"
        ) from None
    # Every process of the step sees the same services, settings and ports as this launcher.
    export_choice(services)
    env = environment(step, steps.settings(step))
    clash = workers_already_running(step, services)
    if clash:
        variables = {v.upper() for ping in step.workers() for v in ping.variables()}
        rename = f", or set {', '.join(sorted(variables))}" if variables else ""
        raise Refused(
            f"A worker named {', '.join(clash)} already answers on this broker. Two workers "
            f"with one name break each other: stop the other step first (Ctrl-C in its "
            f"terminal){rename}."
        )
    return services, env


def free_port_near(port: int) -> int:
    """A free port a little above `port` that no step or server of the workshop uses."""
    taken = steps.reserved_ports()
    return next(p for p in range(port + 10, port + 200) if p not in taken and not port_in_use(p))


def create_result_tables(backend_url: str) -> None:
    """Celery's SQL result tables, created once, before several processes race to create them."""
    if not backend_url.startswith("db+"):
        return
    from celery import Celery

    app = Celery("workshop-prepare", backend=backend_url, set_as_current=False)
    app.conf.result_extended = True
    app.backend.ResultSession().close()


def environment(step: Step, settings) -> dict[str, str]:
    """The environment of the step's processes: this one, the settings with their defaults,
    the run folders, Flower's login, and the step's own `env` (its {NAME}s filled)."""
    run_dir = step.run_dir(settings)
    auth = settings.flower_basic_auth or f"workshop:{secrets.token_urlsafe(9)}"
    # The settings that have a value, without the other steps' ports (PORT means something to
    # other programs); variables already in this environment stay as they are.
    values = settings.as_environment()
    for other in steps.STEPS.values():
        if other is not step:
            for port in other.ports:
                values.pop(port.variable, None)
    values |= {
        "STEP_RUN_DIR": str(run_dir),
        "STEP_LOG_DIR": str(run_dir / "logs"),
        "FLOWER_BASIC_AUTH": auth,
        "NGINX_USER": nginx_user(),
    }
    values.update(
        {
            name: text.format(**values)
            for name, text in step.env.items()
            if name.lower() not in settings.model_fields_set
        }
    )
    env = env_with_venv(values)
    # The programs a step needs are found on PATH, even in an sbin folder.
    folders = sorted({str(Path(find_binary(name)).parent) for name in step.needs})
    env["PATH"] = os.pathsep.join([str(VENV_BIN), *folders, env["PATH"]])
    return env


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


def nginx_user() -> str:
    """`user nobody <group>;` for a root Nginx master (its workers must not run as root)."""
    if os.geteuid() != 0:
        return ""
    nobody = pwd.getpwnam("nobody")
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"


def render_templates(step: Step, run_dir: Path, env: dict[str, str]) -> None:
    """Fill each template's ${NAME}s from the processes' environment, as envsubst would; Nginx's
    own $variables stay as they are (safe_substitute)."""
    for target, source in step.templates.items():
        path = run_dir / target
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Template((step.path / source).read_text()).safe_substitute(env)
        path.write_text(text)


def answering(services: CeleryServices, names: list[str]) -> set[str]:
    """Those of the workers `names` that answer ping on the chosen broker within a second."""
    options = services.celery_config().get("broker_transport_options", {})
    return set(ping_workers(services.broker.url, options, 1, only=names))


def workers_already_running(step: Step, services: CeleryServices) -> list[str]:
    """The step's worker names that already answer ping on the chosen broker."""
    names = step.worker_names(steps.settings(step))
    try:
        found = answering(services, names)
    except Exception:  # an unreachable broker is reported later, by the processes themselves
        return []
    return [name for name in names if name in found]


def wait_ready(
    step: Step,
    top: subprocess.Popen,
    ports: dict[str, int],
    services: CeleryServices,
    console: Console,
) -> bool:
    """Until every program answers: HTTP on its port, or ping for a Celery worker."""
    names = step.worker_names(steps.settings(step))
    waiting = [p.ready for p in step.programs if isinstance(p.ready, Http)]

    def ready() -> bool:
        if top.poll() is not None:
            raise RuntimeError(f"{step.runner} exited ({top.returncode})")
        for check in list(waiting):  # each web program once, in order
            if not http_ok(f"http://127.0.0.1:{ports[check.port]}{check.path}"):
                return False
            waiting.remove(check)
        return not names or set(names) <= answering(services, names)

    try:
        wait_until(ready, READY_TIMEOUT, interval=0.2, what=f"every program of {step.name} up")
    except (TimeoutError, RuntimeError) as error:
        console.print(f"[red]{error}[/]: read the log lines above.")
        return False
    return True


def print_try_it(step: Step, env: dict[str, str], console: Console) -> None:
    """The step's "try it" lines, with its ports, paths and Flower's login filled in."""
    main = step.main_port
    port = int(env[main.variable])
    user, password = env["FLOWER_BASIC_AUTH"].split(":", 1)
    random = not steps.settings(step).flower_basic_auth
    shown = {
        **env,
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
