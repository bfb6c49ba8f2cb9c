"""Which servers a step uses: RabbitMQ, Redis and PostgreSQL, or the embedded default.

WORKSHOP_MODE decides what happens when a server does not answer:

- ``auto`` (the default): use the server when it answers; otherwise fall back to the embedded
  default, which needs no server (kombu's ``filesystem://`` broker and SQLite under ``.run/``),
  and say so in a banner. Never silently.
- ``services`` (what CI sets): a server that does not answer is an error naming the URL and the fix.
- ``embedded``: always the embedded default.

Only the launcher decides; it hands the choice to the step's processes through the standard
variables (`variables()`), which each step reads itself. See it: ``make env STEP=step01``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from workshop.settings import (
    DEFAULT_REDIS_URL,
    FIXES,
    Settings,
    endpoint,
    reachable,
    safe_url,
    scheme,
)

# The variable that names each role's server.
VARIABLES = {
    "broker": "CELERY_BROKER_URL",
    "result backend": "CELERY_RESULT_BACKEND",
    "database": "DATABASE_URL",
}
# Result backends that live in the step's own database (django-celery-results), not on a server.
DATABASE_BACKENDS = {"django-db"}


class ServiceUnavailable(RuntimeError):
    """A server is needed (WORKSHOP_MODE=services) and nothing answers at its URL."""


@dataclass(frozen=True)
class Service:
    """One server a step uses: its role, its URL and whether it is the embedded default."""

    role: str
    url: str
    embedded: bool
    why: str = ""
    # Where it lives, when `url` names no server: django-db keeps results in the Django database.
    where: str = ""

    def shown(self) -> str:
        """For banners and start-up lines: `django-db in postgresql://...`."""
        if self.where:
            return f"{self.url} in {safe_url(self.where)}"
        return safe_url(self.url)


@dataclass(frozen=True)
class Services:
    """The broker, result backend and database chosen for a step."""

    mode: str
    broker: Service
    backend: Service
    run_dir: Path
    database: Service | None = None  # DATABASE_URL, for a step that keeps its data there

    @property
    def embedded(self) -> bool:
        return any(service.embedded for service in self.servers())

    @property
    def broker_folder(self) -> Path | None:
        """The folder of kombu's filesystem broker, when it is the one chosen."""
        return self.run_dir / "broker" if scheme(self.broker.url) == "filesystem" else None

    def servers(self) -> list[Service]:
        """The broker, the result backend and the database, each once."""
        found = [self.broker, self.backend]
        if self.database is not None and self.database.url != self.backend.where:
            found.append(self.database)
        return found

    def variables(self) -> dict[str, str]:
        """The standard variables that tell a step's processes where their servers are."""
        found = {"CELERY_BROKER_URL": self.broker.url, "CELERY_RESULT_BACKEND": self.backend.url}
        if self.database is not None:
            found["DATABASE_URL"] = self.database.url
        if self.broker_folder is not None:  # what kombu's filesystem transport needs
            found["CELERY_BROKER_FOLDER"] = str(self.broker_folder)
        return found

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


def choose(role: str, url: str, embedded_url: str, mode: str) -> Service:
    """Pick the configured server or the embedded default, following WORKSHOP_MODE."""
    if mode == "embedded":
        return Service(role, embedded_url, True, "WORKSHOP_MODE=embedded")
    address = endpoint(url)
    if address is None:
        return Service(role, url, True, f"set by {VARIABLES[role]}")
    if reachable(url):
        return Service(role, url, False)
    host, port = address
    if mode == "services":
        fix = FIXES.get(scheme(url), "start it or point the variable at a running one")
        raise ServiceUnavailable(
            f"The {role} is not reachable at {safe_url(url)} (WORKSHOP_MODE=services). Fix: {fix}."
        )
    return Service(role, url=embedded_url, embedded=True, why=f"nothing answers at {host}:{port}")


def choose_services(
    settings: Settings, default_backend: str | None = None, database: bool = False
) -> Services:
    """The servers of a step, from the settings and WORKSHOP_MODE.

    `default_backend`: the step's result backend when CELERY_RESULT_BACKEND is unset (Redis).
    `database`: the step keeps its data in DATABASE_URL, so choose it too, with SQLite as its
    embedded default. A result backend of `django-db` lives there.
    """
    run_dir, mode = settings.workshop_run_dir, settings.workshop_mode
    broker = choose("broker", settings.celery_broker_url, "filesystem://", mode)
    backend_url = settings.celery_result_backend or default_backend or DEFAULT_REDIS_URL
    chosen = None
    if database or backend_url in DATABASE_BACKENDS:
        sqlite = f"sqlite:///{run_dir / 'django.sqlite3'}"
        chosen = choose("database", settings.database_url, sqlite, mode)
    if chosen is not None and backend_url in DATABASE_BACKENDS:
        backend = Service("result backend", backend_url, chosen.embedded, chosen.why, chosen.url)
    else:
        sqlite = f"db+sqlite:///{run_dir / 'results.sqlite'}"
        backend = choose("result backend", backend_url, sqlite, mode)
    return Services(mode, broker, backend, run_dir, chosen)


def print_banner(services: Services, file=None) -> None:
    """Print the embedded-default banner, if any, in a box that nobody can miss."""
    text = services.banner()
    if text is None:
        return
    from rich.console import Console
    from rich.panel import Panel

    Console(file=file or sys.stdout).print(Panel(text, style="bold yellow", expand=False))
