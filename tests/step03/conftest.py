"""Step 3 started the way a learner starts it (`python -m workshop run step03`, what `make
step03` runs), on free ports, each stack with a database of its own, then Ctrl-C.

`stack` is the real thing: Django, the demo blog and a Celery worker under supervisord,
RabbitMQ as the broker, PostgreSQL for the articles and the results. tests/step03/ also runs
the same step on Redis as the broker and on the embedded default (test_brokers.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from urllib.parse import urlsplit, urlunsplit

import django
import httpx
import pytest

from tests.support.databases import fresh_database, query
from tests.support.launched import LaunchedStep, launched
from tests.support.services import STRICT, available, require
from tests.support.tasks import wait_for_task
from workshop.probe import free_port

NEEDS = ("rabbitmq", "postgresql")

# pytest-django sets Django up with step 3's settings, for the tests of this folder (with a
# test database of its own) and only when they are collected. In services mode (CI) those
# settings refuse to load without their servers: leave Django alone then, and the tests that
# need them fail through `needs` like every other test, instead of breaking the whole run.
if not STRICT or all(available(service)[0] for service in NEEDS):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "step03_django_rabbitmq.project.settings")
    django.setup()  # before the test modules import the models


class Stack03(LaunchedStep):
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url(), timeout=10)

    def scrape(self, client: httpx.Client, timeout: float = 60, **body) -> dict:
        """POST /api/scrape, then GET its status until it is done: the last answer."""
        answer = client.post("/api/scrape", json=body)
        assert answer.status_code == 202, answer.text
        return wait_for_task(client, answer.json()["task_id"], timeout)

    def sql(self, text: str, *args) -> list[tuple]:
        return query(self.env["DATABASE_URL"], text, *args)

    def articles(self) -> int:
        return self.sql("SELECT count(*) FROM articles_article")[0][0]


@contextmanager
def stack03(tmp_path_factory, name: str, database: bool = True, **env) -> Iterator[Stack03]:
    run_dir = tmp_path_factory.mktemp(name)
    # No scheduled scrape unless a test asks for one: it would change the counts a test reads.
    env.setdefault("SCRAPE_EVERY", "0")
    password = env.pop("DATABASE_PASSWORD", None)
    with fresh_database() if database else nullcontext() as url:
        if url:
            env["DATABASE_URL"] = with_password(url, password) if password else url
        with launched(Stack03("step03", run_dir, **env)) as step:
            yield step


def with_password(url: str, password: str) -> str:
    """The same URL with a password (a local PostgreSQL that trusts loopback ignores it)."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """As `make step03` runs it, DEBUG on; the database URL has a password, which no page may
    show (test_hostile.py)."""
    require(*NEEDS)  # before starting anything: a missing server skips (or fails in CI)
    blog = free_port()  # known before the start: a broken page of it is an allowed source
    gone = f"http://127.0.0.1:{blog}/posts/moved-away/"
    with stack03(
        tmp_path_factory,
        "step03",
        DEMO_BLOG_PORT=str(blog),
        SCRAPE_SOURCES=gone,
        DATABASE_PASSWORD="not-shown-anywhere",  # noqa: S106 (made up: trust ignores it)
    ) as step:
        yield step


@pytest.fixture(autouse=True)
def step03_app_is_current(monkeypatch):
    """Step 3's Celery app is the current and default one during its tests, as in its own
    processes. `make test` spreads the test files over two pytest processes, so another step's
    tests may have made their Celery app current first: `shared_task` would then hand out that
    app's task class, without `apply_async_on_commit`. (Through monkeypatch: a test's own patch
    of a task is undone first, while this app is still the one the task proxies reach.)"""
    from celery import _state

    from step03_django_rabbitmq.project import celery_app

    monkeypatch.setattr(_state, "default_app", celery_app)
    monkeypatch.setattr(_state._tls, "current_app", celery_app)
