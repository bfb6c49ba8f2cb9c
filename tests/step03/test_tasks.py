"""The tasks run in this process (Celery's `apply`, retries included), against a fake network
and pytest-django's test database: what each kind of failure becomes."""

from __future__ import annotations

import httpx
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError

from step03_django_rabbitmq.articles import tasks
from step03_django_rabbitmq.articles.models import Article, Scrape
from tests.step03.conftest import NEEDS
from tests.support.services import STRICT

pytestmark = [pytest.mark.django_db, *([pytest.mark.needs(*NEEDS)] if STRICT else [])]
PAGE = "http://blog.test/posts/a/"
SOURCE = "http://blog.test/feed.xml"


def network(monkeypatch, answer) -> list[str]:
    """Every request the tasks make gets `answer(request)`; the URLs asked, in order."""
    asked = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return answer(request)

    monkeypatch.setattr(
        tasks, "http_client", lambda: httpx.Client(transport=httpx.MockTransport(serve))
    )
    return asked


def test_a_page_that_stays_down_is_retried_four_times_then_reported(monkeypatch):
    asked = network(monkeypatch, lambda request: httpx.Response(503))
    result = tasks.fetch_article.apply(args=(SOURCE, PAGE, {})).get()
    assert len(asked) == 5 and result["outcome"] == "failed" and result["attempts"] == 5
    assert result["error"] == f"HTTP 503 Service Unavailable at {PAGE} (still, after 5 attempts)"
    assert Article.objects.count() == 0


def test_a_good_page_is_stored_once_and_updated_after(monkeypatch):
    network(monkeypatch, lambda request: httpx.Response(200, text="<h1>Hello</h1>"))
    first = tasks.fetch_article.apply(args=(SOURCE, PAGE, {"author": "Ada"})).get()
    again = tasks.fetch_article.apply(args=(SOURCE, PAGE, {"author": "Ada"})).get()
    assert (first["outcome"], again["outcome"]) == ("created", "updated")
    assert Article.objects.get().author == "Ada"


def test_a_task_over_its_time_limit_reports_the_page(monkeypatch):
    def too_slow(request):
        raise SoftTimeLimitExceeded()

    network(monkeypatch, too_slow)
    result = tasks.fetch_article.apply(args=(SOURCE, PAGE, {})).get()
    assert result == {
        "url": PAGE,
        "outcome": "failed",
        "error": "took longer than the task's time limit",
        "attempts": 1,
    }


def test_a_page_the_database_refuses_is_reported_not_raised(monkeypatch):
    network(monkeypatch, lambda request: httpx.Response(200, text="<h1>Hello</h1>"))

    def refuse(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(Article.objects, "update_or_create", refuse)
    result = tasks.fetch_article.apply(args=(SOURCE, PAGE, {})).get()
    assert result["outcome"] == "failed"
    assert result["error"] == "could not be stored: DatabaseError: disk full"


def test_a_scrape_delivered_again_does_not_start_a_second_chord(monkeypatch):
    asked = network(monkeypatch, lambda request: httpx.Response(200))
    run = Scrape.objects.create(source=SOURCE, found=3, group_id="g", summary_task_id="s")
    result = tasks.scrape.apply(args=(str(run.pk),)).get()
    assert result == {"source": SOURCE, "found": 3, "summary_task_id": "s"} and asked == []


def test_a_failed_scrape_is_finished_with_its_error(client):
    run = Scrape.objects.create(source=SOURCE)
    tasks.record_failure(None, LookupError("gone"), None, str(run.pk))
    answer = client.get(f"/api/tasks/{run.pk}")
    assert answer.status_code == 200
    assert answer.json()["state"] == "FAILURE" and answer.json()["error"] == "LookupError: gone"
    run.refresh_from_db()
    assert run.finished_at is not None
