"""Where the workshop finds its services, and what it does when one is missing.

Every step reads the same variables: CELERY_BROKER_URL, CELERY_RESULT_BACKEND and DATABASE_URL
(from the environment or a `.env` file at the top of the repository). WORKSHOP_MODE decides
what happens when a server does not answer:

- ``auto`` (the default): use the server when it answers; otherwise fall back to the embedded
  default, which needs no server (kombu's ``filesystem://`` broker and SQLite under ``.run/``),
  and say so in a banner. Never silently.
- ``services`` (what CI sets): a server that does not answer is an error naming the URL and the fix.
- ``embedded``: always the embedded default.

See it at work: ``python -m workshop doctor``.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from kombu.utils.url import maybe_sanitize_url
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_BROKER_URL = "amqp://guest:guest@localhost:5672//"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@localhost:5432/postgres"

# The port each kind of server listens on when a URL does not say.
DEFAULT_PORTS = {"amqp": 5672, "pyamqp": 5672, "redis": 6379, "postgresql": 5432}

# One line each: how to get the missing server running.
FIXES = {
    "amqp": "start RabbitMQ: `make services` (or `rabbitmq-server -detached`)",
    "redis": "start Redis: `make services` (or `redis-server --daemonize yes`)",
    "postgresql": "start PostgreSQL: `make services` (or `pg_ctlcluster 15 main start`)",
}

# One line each: how to install a program the tools need besides the steps' own (those, such
# as nginx, are in each step's declaration).
PROGRAM_FIXES = {
    "wrk": "`sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`",
    "dot": "`sudo apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz`",
    "node": "`sudo apt-get install nodejs npm` (Debian/Ubuntu) or `brew install node`",
    "npm": "`sudo apt-get install nodejs npm` (Debian/Ubuntu) or `brew install node`",
    "chromium": "`sudo apt-get install chromium` (Debian/Ubuntu); .ci/run installs it",
}


# The variable that names each role's server.
VARIABLES = {
    "broker": "CELERY_BROKER_URL",
    "result backend": "CELERY_RESULT_BACKEND",
    "database": "DATABASE_URL",
}


# Where a launcher leaves the reason for an embedded default it chose.
WHY_VARIABLES = {role: f"WORKSHOP_WHY_{name}" for role, name in VARIABLES.items()}


class Settings(BaseSettings):
    """Every variable the workshop reads, with its default (names are case-insensitive).

    `.env.example` documents each one. The port variables are declared by the steps
    (workshop/steps/) and read through this same model, extended with them (workshop.steps).
    A step folder may extend it too, with the variables only its own code reads.
    """

    model_config = SettingsConfigDict(env_file=ROOT / ".env", extra="ignore")

    workshop_mode: Literal["auto", "services", "embedded"] = "auto"
    celery_broker_url: str = DEFAULT_BROKER_URL
    celery_result_backend: str | None = None  # each step has its own default
    database_url: str = DEFAULT_DATABASE_URL
    workshop_run_dir: Path = ROOT / ".run"
    celery_task_default_queue: str = "celery"
    # Seconds of simulated work when a request does not say.
    task_seconds: float = Field(3.0, ge=0, le=30)
    # Celery worker names: step 1's, and a prefix for the workers of later steps.
    worker_name: str = "worker1"
    worker_prefix: str = ""
    worker_concurrency: int = Field(2, ge=1)
    flower_basic_auth: str | None = None  # user:password; unset: a random one per run
    # Step 2's Gunicorn: where it binds, worker processes (unset: cores + 1), threads.
    gunicorn_bind: str | None = None
    gunicorn_workers: int | None = Field(None, ge=1)
    gunicorn_threads: int = Field(4, ge=1)
    # Tracing: an OTLP collector, or the JSON-lines file spans go to.
    otel_exporter_otlp_endpoint: str | None = None
    workshop_spans_file: Path | None = None
    # Tracing off: then step 2 does not even install its instrumentation (read by OpenTelemetry
    # too). Which requests to trace: OTEL_TRACES_SAMPLER=traceidratio with a ratio in
    # OTEL_TRACES_SAMPLER_ARG (read by OpenTelemetry itself, checked here).
    otel_sdk_disabled: bool = False
    otel_traces_sampler: str | None = None
    otel_traces_sampler_arg: float | None = Field(None, ge=0, le=1)
    # `make bench`'s workers: acknowledge after the task (the default) or before it.
    bench_acks_late: bool = True
    # Why a launcher chose the embedded default, passed on to its processes (see choose()).
    workshop_why_celery_broker_url: str | None = None
    workshop_why_celery_result_backend: str | None = None
    workshop_why_database_url: str | None = None
    # CI=true: the tests FAIL when a service is missing instead of skipping.
    ci: bool = False

    def why(self, role: str) -> str | None:
        return getattr(self, WHY_VARIABLES[role].lower())

    def as_environment(self) -> dict[str, str]:
        """The settings as environment variables, for processes a launcher starts."""
        values = self.model_dump().items()
        return {name.upper(): text(value) for name, value in values if value is not None}


def text(value: object) -> str:
    """A setting as an environment variable: a list is comma-separated, as it is read."""
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


class ServiceUnavailable(RuntimeError):
    """A server is needed (WORKSHOP_MODE=services) and nothing answers at its URL."""


def scheme(url: str) -> str:
    """The kind of server a URL names: ``db+postgresql+psycopg://`` is ``postgresql``."""
    name = urlsplit(url).scheme.split("+")
    if name[0] == "db" and len(name) > 1:
        return name[1]
    return name[0]


def endpoint(url: str) -> tuple[str, int] | None:
    """Host and port of a networked server, or None for an embedded one (filesystem, SQLite)."""
    kind = scheme(url)
    if kind not in DEFAULT_PORTS:
        return None
    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or DEFAULT_PORTS[kind]


def reachable(url: str, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection at the URL's host and port."""
    address = endpoint(url)
    if address is None:
        return True
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


_RECENT: dict[str, tuple[float, bool]] = {}


def recently_reachable(url: str, within: float = 2.0) -> bool:
    """reachable(), asked at most once per `within` seconds per URL in this process.

    /health may be called hundreds of times a second; each probe is a TCP connection that the
    broker or the database must accept and close.
    """
    now = time.monotonic()
    checked = _RECENT.get(url)
    if checked is None or now - checked[0] > within:
        checked = _RECENT[url] = (now, reachable(url, timeout=0.3))
    return checked[1]


def safe_url(url: str) -> str:
    """The URL with its password masked, fit for logs, banners and JSON answers."""
    return maybe_sanitize_url(url)


@dataclass(frozen=True)
class Service:
    """One server a step uses: its role, its URL and whether it is the embedded default."""

    role: str
    url: str
    embedded: bool
    why: str = ""
    # Where it lives, when `url` names no server: django-db keeps results in the Django database.
    where: str = ""

    @property
    def location(self) -> str:
        return self.where or self.url

    def describe(self) -> dict:
        """For /health: where it is, whether it is the embedded default, whether it answers."""
        return {
            "url": safe_url(self.location),
            "embedded": self.embedded,
            "why": self.why or None,
            "reachable": recently_reachable(self.location),
        }

    def shown(self) -> str:
        """For banners and start-up lines: `django-db in postgresql://...`."""
        if self.where:
            return f"{self.url} in {safe_url(self.where)}"
        return safe_url(self.url)


def choose(role: str, url: str, embedded_url: str, mode: str, why: str | None = None) -> Service:
    """Pick the configured server or the embedded default, following WORKSHOP_MODE.

    `why`: the reason a launcher gave its processes for an embedded URL it chose for them.
    """
    if mode == "embedded":
        return Service(role, embedded_url, True, "WORKSHOP_MODE=embedded")
    address = endpoint(url)
    if address is None:
        return Service(role, url, True, why or f"set by {VARIABLES[role]}")
    if reachable(url):
        return Service(role, url, False)
    host, port = address
    if mode == "services":
        fix = FIXES.get(scheme(url), "start it or point the variable at a running one")
        raise ServiceUnavailable(
            f"The {role} is not reachable at {safe_url(url)} (WORKSHOP_MODE=services). Fix: {fix}."
        )
    return Service(role, embedded_url, True, f"nothing answers at {host}:{port}")


def embedded_backend_url(run_dir: Path) -> str:
    """SQLite file that stores task results when no result server is running."""
    return f"db+sqlite:///{run_dir / 'results.sqlite'}"


def embedded_database_url(run_dir: Path) -> str:
    """SQLite file of a Django step when no PostgreSQL is running."""
    return f"sqlite:///{run_dir / 'django.sqlite3'}"


# Result backends that live in the step's own database (django-celery-results), not on a server.
DATABASE_BACKENDS = {"django-db"}


def filesystem_transport_options(run_dir: Path) -> dict:
    """Folders of kombu's filesystem broker: every message is one file under .run/broker/."""
    messages = run_dir / "broker" / "messages"
    control = run_dir / "broker" / "control"
    for folder in (messages, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(messages),
        "data_folder_out": str(messages),
        "control_folder": str(control),
        # The filesystem broker polls its folder; 0.1 s keeps the demo snappy.
        "polling_interval": 0.1,
    }


@dataclass(frozen=True)
class CeleryServices:
    """The broker and result backend a step's Celery app will use."""

    mode: str
    broker: Service
    backend: Service
    run_dir: Path
    database: Service | None = None  # DATABASE_URL, for a step that keeps its data there

    @property
    def embedded(self) -> bool:
        return any(service.embedded for service in self.servers())

    def servers(self) -> list[Service]:
        """The broker, the result backend and the database, each once."""
        found = [self.broker, self.backend]
        if self.database is not None and self.database.url != self.backend.where:
            found.append(self.database)
        return found

    def celery_config(self) -> dict:
        """Celery settings that say where the broker and the result backend are."""
        config = {"broker_url": self.broker.url, "result_backend": self.backend.url}
        if self.backend.url.startswith("db+sqlite:"):
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if scheme(self.broker.url) == "filesystem":
            config["broker_transport_options"] = filesystem_transport_options(self.run_dir)
        return config

    def banner(self) -> str | None:
        """The warning printed at start-up when a server is replaced by the embedded default."""
        lines = [
            f"{service.role}: embedded default {service.shown()} ({service.why})"
            for service in self.servers()
            if service.embedded
        ]
        if not lines:
            return None
        return "\n".join(
            [
                "EMBEDDED DEFAULT IN USE: fine for learning, but these are not the real servers.",
                *lines,
                "For the real services: `make services`, then start this step again.",
            ]
        )


def celery_services(
    default_backend: str = DEFAULT_REDIS_URL, database: bool = False
) -> CeleryServices:
    """Resolve the broker and result backend from the environment and WORKSHOP_MODE.

    `database`: the step keeps its data in DATABASE_URL (step 3's Django), so choose it too,
    with SQLite as its embedded default. A result backend of `django-db` lives there.
    """
    settings = Settings()
    run_dir = settings.workshop_run_dir
    mode = settings.workshop_mode
    broker = choose(
        "broker", settings.celery_broker_url, "filesystem://", mode, settings.why("broker")
    )
    backend_url = settings.celery_result_backend or default_backend
    chosen = None
    if database or backend_url in DATABASE_BACKENDS:
        chosen = choose(
            "database",
            settings.database_url,
            embedded_database_url(run_dir),
            mode,
            settings.why("database"),
        )
    if backend_url in DATABASE_BACKENDS:
        backend = Service("result backend", backend_url, chosen.embedded, chosen.why, chosen.url)
    else:
        backend = choose(
            "result backend",
            backend_url,
            embedded_backend_url(run_dir),
            mode,
            settings.why("result backend"),
        )
    # Celery reads CELERY_BROKER_URL and CELERY_RESULT_BACKEND from the environment itself and
    # prefers them to its configuration: write a fallback back, so Celery uses what we chose.
    # (Only where a variable is set: a default does not reach Celery, and tests change the
    # environment of their own process.)
    for service in (broker, backend, chosen):
        if service is None:
            continue
        field = VARIABLES[service.role].lower()
        if field in settings.model_fields_set and getattr(settings, field) != service.url:
            os.environ[VARIABLES[service.role]] = service.url
    return CeleryServices(mode, broker, backend, run_dir, chosen)


def export_choice(services: CeleryServices) -> None:
    """Give the processes a launcher starts the same services it chose (and why)."""
    for service in (services.broker, services.backend, services.database):
        if service is None:
            continue
        os.environ[VARIABLES[service.role]] = service.url
        if service.embedded and service.why:
            os.environ[WHY_VARIABLES[service.role]] = service.why


def print_banner(services: CeleryServices, file=None) -> None:
    """Print the embedded-default banner, if any, in a box that nobody can miss."""
    text = services.banner()
    if text is None:
        return
    from rich.console import Console
    from rich.panel import Panel

    Console(file=file or sys.stderr).print(Panel(text, style="bold yellow", expand=False))
