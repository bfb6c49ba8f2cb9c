"""The variables the workshop's own commands read (pydantic-settings), and what they know of a
server's URL.

The steps read their own variables, each the way its framework does; the launcher tells them
which servers to use (workshop/services.py). `.env.example` documents every variable.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
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
SERVER_NAMES = {"amqp": "RabbitMQ", "redis": "Redis", "postgresql": "PostgreSQL"}

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


class Settings(BaseSettings):
    """The variables of the workshop's commands, with their defaults (names are case-insensitive):
    from the environment, then `.env` at the top of the repository."""

    model_config = SettingsConfigDict(env_file=ROOT / ".env", extra="ignore")

    # auto: a server that does not answer is replaced by the embedded default (with a banner);
    # services: it is an error (CI); embedded: always the embedded default.
    workshop_mode: Literal["auto", "services", "embedded"] = "auto"
    celery_broker_url: str = DEFAULT_BROKER_URL
    celery_result_backend: str | None = None  # each step has its own default
    database_url: str = DEFAULT_DATABASE_URL
    workshop_run_dir: Path = ROOT / ".run"
    celery_task_default_queue: str | None = None  # each step has its own default
    # Celery worker names: step 1's, and a prefix for the workers of later steps.
    worker_name: str = "worker1"
    worker_prefix: str = ""
    worker_concurrency: int = Field(2, ge=1)
    flower_basic_auth: str | None = None  # user:password; unset: a random one per run
    # `make live`: the projector view of the running step 2 (workshop/tools/live.py).
    live_port: int = Field(8870, ge=1, le=65535)
    # CI=true: the tests FAIL when a service is missing instead of skipping.
    ci: bool = False

    @classmethod
    def of(cls, environ: Mapping[str, str]) -> Settings:
        """The settings as a process with this environment reads them (then `.env`)."""
        given = {
            name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ
        }
        return cls(**given)


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


def safe_url(url: str) -> str:
    """The URL with its password masked, fit for logs, banners and JSON answers."""
    return maybe_sanitize_url(url)
