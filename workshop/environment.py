"""What a step's processes are told: the servers the launcher chose, the ports, the run folder,
the worker names and the step's own `env`, as environment variables.

`make stepNN` gives them to its processes, `make env STEP=stepNN` prints them, and the tools
read them to find the running step's broker, queue and ports: one decision, made here.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workshop.probe import find_binary
from workshop.registry import Step
from workshop.services import Services, choose_services
from workshop.settings import Settings

VENV_BIN = Path(sys.executable).parent  # this virtualenv's programs: flask, celery, honcho...


# Text the workshop reads from another process (a traceback, a log line) must have no colour
# codes in it. A Jupyter kernel sets FORCE_COLOR=1 for what it starts, and Python 3.13 then
# colours its tracebacks even into a pipe. PYTHON_COLORS=0 turns that off (Python 3.13+, it
# wins over FORCE_COLOR), NO_COLOR=1 every tool that follows no-color.org.
NO_COLOUR = {"PYTHON_COLORS": "0", "NO_COLOR": "1"}
FORCING_COLOUR = ("FORCE_COLOR", "CLICOLOR_FORCE")


def env_with_venv(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with this virtualenv's bin/ first on PATH, no colour in
    what the process writes, and `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in FORCING_COLOUR}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(NO_COLOUR)
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class StepEnvironment:
    step: Step
    settings: Settings
    services: Services
    variables: dict[str, str]  # what the launcher sets, on top of the environment it was given
    base: Mapping[str, str]  # that environment

    @property
    def ports(self) -> dict[str, int]:
        return self.step.port_numbers(self.variables)

    @property
    def run_dir(self) -> Path:
        return self.step.run_dir(self.settings)

    @property
    def queue(self) -> str:
        return self.variables["CELERY_TASK_DEFAULT_QUEUE"]

    def worker_names(self) -> list[str]:
        """Its Celery workers' full names, as ping answers them: worker1@host."""
        return self.step.worker_names(self.settings)

    def processes(self) -> dict[str, str]:
        """The whole environment of the step's processes: this virtualenv's programs and the
        step's needs (nginx...) on PATH first."""
        env = {**self.base, **self.variables}
        folders = sorted({str(Path(find_binary(name)).parent) for name in self.step.needs})
        env["PATH"] = os.pathsep.join([str(VENV_BIN), *folders, env.get("PATH", "")])
        return env

    def exports(self) -> str:
        """The variables as `export` lines a shell runs, with what they are in comments."""
        lines = [f"# {self.step.name}: what `make {self.step.name}` gives its processes"]
        lines += [f"#   {line}" for line in (self.services.banner() or "").splitlines()]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in self.variables.items()]
        return "\n".join(lines)


def environment(step: Step, environ: Mapping[str, str] | None = None) -> StepEnvironment:
    """The step's variables, from `environ` (default: this process's, with .env read).

    Raises ServiceUnavailable (WORKSHOP_MODE=services and a server down) and BadSetting."""
    base = dict(os.environ if environ is None else environ)
    settings = Settings.of(base)
    services = choose_services(settings, step.result_backend, step.database)
    run_dir = step.run_dir(settings)
    values = {
        **services.variables(),
        "CELERY_TASK_DEFAULT_QUEUE": settings.celery_task_default_queue or step.queue,
        **{port.variable: str(port.number(base)) for port in step.ports},
        # The worker names its process file uses, and their pool size.
        **{name.upper(): getattr(settings, name) for p in step.workers() for name in p.variables()},
        "WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "STEP_RUN_DIR": str(run_dir),
        "STEP_LOG_DIR": str(run_dir / "logs"),
    }
    names = {**values, "NGINX_USER": nginx_user(), "PASSWORD": secrets.token_urlsafe(9)}
    for name, text in step.env.items():
        values[name] = base.get(name) or text.format(**names)
    return StepEnvironment(step, settings, services, values, base)


def nginx_user() -> str:
    """`user nobody <group>;` for a root Nginx master (its workers must not run as root)."""
    if os.geteuid() != 0:
        return ""
    nobody = pwd.getpwnam("nobody")
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
