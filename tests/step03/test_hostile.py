"""Hostile requests against step 3's real processes (Gunicorn and Django, DEBUG on as `make
step03` runs it): every answer a 4xx, JSON under /api/ and /health, no traceback, no setting
and no secret in any body, none slower than 5 s, and no scrape started by a refused request."""

from __future__ import annotations

import sys
import uuid

import httpx
from django.views.debug import technical_500_response

from tests.support import hostile

ENDPOINTS = hostile.Endpoints(
    get=(
        "/api/articles",
        "/api/schedule",
        f"/api/tasks/{uuid.UUID(int=1)}",
        "/articles/1/",
        "/tasks/",
        "/health",
        "/",
    ),
    post={"/api/scrape": b"{}", "/scrape/": b"{}"},  # the API, and the page's form
    static="/static/articles/style.css",
    # Sources the scraper refuses (SSRF): only the demo blog and SCRAPE_SOURCES are allowed.
    refused_bodies={
        "cloud metadata": b'{"source": "http://169.254.169.254/latest/meta-data/"}',
        "a file": b'{"source": "file:///etc/passwd"}',
        "the site's own admin": b'{"source": "http://127.0.0.1:8003/admin/"}',
        "an unfinished IPv6 address": b'{"source": "http://[::1"}',
        "userinfo before the host": b'{"source": "http://127.0.0.1:8004@evil.example/"}',
        "a decimal IP": b'{"source": "http://2130706433/"}',
        "gopher": b'{"source": "gopher://127.0.0.1:6379/_FLUSHALL"}',
        "the demo blog's port, another path": b'{"source": "http://127.0.0.1:1/feed.xml"}',
    },
)


def test_hostile_requests_get_clear_refusals_and_start_nothing(stack):
    secrets = hostile.secrets_of(stack.env, (stack.run_dir / "step03" / "django-key").read_text())
    scrapes = "SELECT count(*) FROM articles_scrape"
    with stack.not_consuming():
        queued, started = hostile.queued(stack.broker, stack.queues), stack.sql(scrapes)
        answers, found = hostile.run(stack.port("django"), ENDPOINTS, secrets)
        assert not found, "\n".join(found)
        assert len(answers) >= 40
        assert hostile.queued(stack.broker, stack.queues) == queued
        assert stack.sql(scrapes) == started
        # The counts can see a start: a valid request adds a scrape and a message.
        with stack.client() as client:
            assert client.post("/api/scrape", json={}).status_code == 202
        assert hostile.queued(stack.broker, stack.queues) == queued + 1
        assert stack.sql(scrapes)[0][0] == started[0][0] + 1
        hostile.purge(stack.broker, [stack.queue])
        stack.sql("DELETE FROM articles_scrape WHERE finished_at IS NULL")
    print(f"step 3: {len(answers)} hostile requests: {hostile.tally(answers)}")


def test_the_debug_page_hides_every_secret(stack):
    """DEBUG on, a page's 500 shows the settings and the request: no password of a service URL,
    no secret key. (A Host outside ALLOWED_HOSTS gets the one-line message instead.)"""
    key = (stack.run_dir / "step03" / "django-key").read_text()
    with stack.client() as client:
        refused = client.get("/", headers={"Host": "evil.example"})
        assert refused.status_code == 400 and "ALLOWED_HOSTS" in refused.text
        assert "INSTALLED_APPS" not in refused.text and len(refused.text) < 500
    assert stack.env["DATABASE_URL"].count(":") >= 3, "the test's database URL has a password"
    for secret in hostile.secrets_of(stack.env, key):
        assert secret not in refused.text


def test_a_chunked_body_is_refused_not_taken_for_none(stack):
    with httpx.Client(base_url=stack.url(), timeout=10) as client:
        body = iter([b'{"source": "http://169.254.169.254/"}'])  # an iterator: sent chunked
        answer = client.post("/api/scrape", content=body)
    assert answer.status_code == 411, answer.text
    assert "Content-Length" in answer.json()["error"]


# Made here, not in the test: the page shows the test's own source lines and local variables.
SECRETS = (uuid.uuid4().hex, uuid.uuid4().hex)


def test_the_debug_page_of_an_error_hides_passwords_in_urls(settings, rf):
    """Django's debug page for an error (DEBUG on) lists the settings, the request's environment
    and each frame's variables: project/debug.py masks a password inside a URL in all three."""
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = f"amqp://scraper:{SECRETS[0]}@rabbitmq:5672/extractor"
    # The development server copies the whole environment into each request's META.
    request = rf.get("/", DATABASE_URL=f"postgresql://postgres:{SECRETS[1]}@db:5432/postgres")
    try:
        broker = settings.CELERY_BROKER_URL  # a local variable of the failing frame
        raise RuntimeError(f"could not reach {len(broker)} bytes of broker")
    except RuntimeError:
        page = technical_500_response(request, *sys.exc_info()).content.decode()
    assert "CELERY_BROKER_URL" in page and "INSTALLED_APPS" in page  # it is the debug page
    assert SECRETS[0] not in page and SECRETS[1] not in page
    assert "amqp://scraper:********************@rabbitmq:5672/extractor" in page
