"""What a step is made of: the data that each file in workshop/steps/ declares.

A step is data, not code: its ports, its programs and how to know each one is ready, its "try
it" lines and its checks. One launcher, one `check` and the tools read these declarations, so a
new step needs a file in workshop/steps/ and its own folder, nothing else. workshop/README.md
walks through step 2's declaration.
"""

from __future__ import annotations

import os
import socket
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from workshop.settings import ROOT, Settings


class BadSetting(ValueError):
    """A variable has a value the workshop cannot use; the message says which, and why."""


@dataclass(frozen=True)
class Port:
    """A port the step listens on. Its number comes from `variable`, else `default`."""

    name: str  # the program that listens: "nginx"
    default: int
    variable: str  # "NGINX_PORT": read by every command, so all of them follow a change
    label: str  # "Nginx", for messages and `make doctor`

    def number(self, environ: Mapping[str, str]) -> int:
        text = environ.get(self.variable, str(self.default))
        if not (text.strip().isdigit() and 1 <= int(text) <= 65535):
            raise BadSetting(f"✗ {self.variable}={text!r}: not a port number (1 to 65535).")
        return int(text)


@dataclass(frozen=True)
class Http:
    """Ready when GET `path` on the step's port `port` answers (any status below 500)."""

    port: str
    path: str = "/health"


@dataclass(frozen=True)
class Ping:
    """Ready when the Celery worker `worker` answers ping. `{worker_prefix}` and the like are
    filled from the settings, so tests and a second stack can pick other names."""

    worker: str

    def variables(self) -> list[str]:
        """The settings the name depends on: the learner's way to pick another name."""
        return [name for _, name, _, _ in string.Formatter().parse(self.worker) if name]


@dataclass(frozen=True)
class Started:
    """Ready once started: a program with no port and no ping (Celery beat). Its manager
    restarts it if it dies; the step's checks see whether it does its job."""


@dataclass(frozen=True)
class Program:
    """One process of the step, named as in its Procfile or supervisord.conf."""

    name: str
    ready: Http | Ping | Started


@dataclass(frozen=True)
class Trip:
    """One request of a round trip: POST `path` with `body`; its `Location` is polled until the
    work is done, and `expect`, when given, is (a key of the final answer, the value it must
    hold)."""

    path: str
    body: dict = field(default_factory=dict)
    expect: tuple[str, object] | None = None
    # Long work (step 4's tasks, at TASK_DELAY_SCALE=1, which its /health gives): waited for.
    seconds: float = 0
    label: str = "task"  # what it starts, in the check's lines


@dataclass(frozen=True)
class TaskApi:
    """The task API of DESIGN.md, as this step serves it (read by `check`, `stress` and `demo`)."""

    targets: tuple[str, ...]  # the ports that serve it, the usual one first
    submit: str = "/api/process_data"
    status: str = "/api/tasks/{task_id}"
    task: str = "step01_flask_celery.app.tasks.process_data"  # its Celery name
    # What `make check-stepNN` sends from POST to SUCCESS.
    trips: tuple[Trip, ...] = (Trip("/api/process_data", {"seconds": 0.5, "from": "check"}),)
    # How `stress` knows a task ended: its result in the result backend, or the status URL
    # (when the task starts more work, like step 3's chord, and only the API knows the end).
    done_by: Literal["backend", "api"] = "backend"
    # Whether the task can be sent straight to the broker, for `stress`'s baseline.
    baseline: bool = True
    # What `stress` sends with each request; unset: {"seconds": <its --seconds>}.
    load: Mapping[str, object] | None = None

    def body(self, seconds: float) -> dict:
        return dict(self.load) if self.load is not None else {"seconds": seconds}

    def arguments(self, seconds: float) -> tuple:
        """The task's own arguments for the same request, for a baseline sent with send_task."""
        return ({}, seconds, False)


@dataclass(frozen=True)
class Exercise:
    """Something the learner writes in the lesson code. The lesson files hold the solution; the
    learner's starting point is made from them by a patch, steps/stubs/<id>.diff. Verified by
    what the code does (`tests`, and `checks` when the step runs), never by its text."""

    id: str  # "01.3": step 1, the third
    title: str
    minutes: int
    core: bool  # False: a stretch goal, for who is ahead
    goal: str  # what must become true, for the learner
    files: tuple[str, ...]  # what the learner edits, from the top of the repository
    tests: tuple[str, ...]  # pytest node ids (tests/exercises/), the learner's way to be sure
    hints: tuple[str, ...]  # from gentle to explicit
    checks: tuple[Callable, ...] = ()  # run too when the step is up (workshop/checks.py)

    @property
    def stub(self) -> Path:
        return Path(__file__).parent / "steps" / "stubs" / f"{self.id}.diff"


@dataclass(frozen=True)
class Tracing:
    """Where the step's hop tracing leaves its files, relative to the step's run folder."""

    spans: str
    access_log: str


@dataclass(frozen=True)
class Step:
    folder: str  # the lesson's folder, at the top of the repository: step02_nginx_gunicorn
    title: str
    ports: tuple[Port, ...]  # the first is where the step answers: `PORT=` moves it
    runner: Literal["honcho", "supervisord"]  # which reads <folder>/Procfile or supervisord.conf
    programs: tuple[Program, ...]
    try_lines: tuple[str, ...]  # printed once every program is ready; {NAME} as in `env`
    checks: tuple[Callable, ...]  # `make check-stepNN`, in order (workshop/checks.py)
    # Programs that must be installed, each with how to install it.
    needs: Mapping[str, str] = field(default_factory=dict)
    # More variables for the step's processes; {NAME} is filled from the ports' variables,
    # STEP_RUN_DIR, STEP_LOG_DIR, NGINX_USER and PASSWORD (random, per run). A learner's own
    # value (environment, .env) wins.
    env: Mapping[str, str] = field(default_factory=dict)
    # Files written into the run folder from templates in the step folder, ${NAME} filled from
    # the processes' environment (as the nginx image's envsubst does).
    templates: Mapping[str, str] = field(default_factory=dict)
    # Its default CELERY_RESULT_BACKEND, when not Redis ("django-db": its Django database).
    result_backend: str | None = None
    # It keeps its data in DATABASE_URL (SQLite when embedded), chosen like the broker.
    database: bool = False
    # Commands run once before the programs start, in their environment (database migrations).
    before: tuple[str, ...] = ()
    queue: str = "celery"  # its default CELERY_TASK_DEFAULT_QUEUE, as its own code has it
    # For the tools: `check`, `stress` and `demo` use its task API; `trace` its spans; `faults`
    # the table in DATABASE_URL where its workers count each task's runs (runs > 1: twice).
    task_api: TaskApi | None = None
    tracing: Tracing | None = None
    history: str | None = None
    exercises: tuple[Exercise, ...] = ()  # `make exercises` lists them, in order

    @property
    def name(self) -> str:
        """ "step02", from its folder: `make step02`, `python -m workshop run step02`."""
        return Path(self.folder).name.split("_")[0]

    @property
    def path(self) -> Path:
        return ROOT / self.folder

    @property
    def main_port(self) -> Port:
        return self.ports[0]

    def port(self, name: str) -> Port:
        return next(port for port in self.ports if port.name == name)

    def workers(self) -> list[Ping]:
        return [program.ready for program in self.programs if isinstance(program.ready, Ping)]

    def worker_names(self, settings: Settings) -> list[str]:
        """Its Celery workers' full names, as ping answers them: worker1@host."""
        values, host = settings.model_dump(), socket.gethostname()
        return [f"{ping.worker.format(**values)}@{host}" for ping in self.workers()]

    def port_numbers(self, environ: Mapping[str, str] | None = None) -> dict[str, int]:
        """Its ports by name, as this environment sets them (default: this process's)."""
        environ = os.environ if environ is None else environ
        return {port.name: port.number(environ) for port in self.ports}

    def run_dir(self, settings: Settings) -> Path:
        """Where the step keeps its run-time files: .run/stepNN/ (logs/, rendered configs)."""
        return settings.workshop_run_dir / self.name
