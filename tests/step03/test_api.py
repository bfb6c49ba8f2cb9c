"""The JSON API and the pages, in-process with Django's test client and pytest-django's test
database (PostgreSQL when it runs): every bad input, the on-commit publish, the race it
prevents, a broker that fails the publish."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connections, transaction
from kombu.exceptions import OperationalError

from step03_django_rabbitmq.articles import tasks
from step03_django_rabbitmq.articles.models import Article, Scrape
from tests.step03.conftest import NEEDS
from tests.support.services import STRICT

DEMO_FEED = "http://127.0.0.1:8004/feed.xml"
# In services mode (CI), a missing server fails these tests (conftest.py); else they run on
# whatever the settings chose, the embedded SQLite included.
pytestmark = [pytest.mark.django_db, *([pytest.mark.needs(*NEEDS)] if STRICT else [])]


def post(client, body, content_type="application/json"):
    return client.post("/api/scrape", data=body, content_type=content_type)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("{json}", 400, "The body is not JSON"),
        ("[1, 2]", 400, "must be a JSON object"),
        ('"text"', 400, "must be a JSON object"),
        ('{"source": 42}', 400, '"source" must be a string'),
        ('{"source": "ftp://example.org/feed"}', 400, "must be an http(s) URL"),
        ('{"source": "not a url"}', 400, "must be an http(s) URL"),
        ('{"source": "https://example.org/feed.xml"}', 400, "is not in the allowed list"),
        ('{"sorce": "typo"}', 400, "Unknown field(s): sorce"),
        (b"\xff\xfe", 400, "The body is not JSON"),
        (b"[" * 30_000 + b"]" * 30_000, 400, "nested too deeply"),
        ("{" + " " * 70_000 + "}", 413, "The body is over 64 KB"),
    ],
)
def test_bad_input_gets_a_clear_json_error_and_starts_nothing(client, body, status, message):
    answer = post(client, body)
    assert answer.status_code == status
    assert answer["Content-Type"] == "application/json"
    assert message in answer.json()["error"]
    assert Scrape.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/scrape"), ("post", "/api/articles"), ("delete", "/api/tasks/x")],
)
def test_a_wrong_method_is_a_json_405(client, method, path):
    answer = getattr(client, method)(path)
    assert answer.status_code == 405
    assert "is not allowed here" in answer.json()["error"]


@pytest.mark.parametrize("page", ["0", "3", "two", "-1"])
def test_a_page_out_of_range_is_a_json_400(client, page):
    Article.objects.bulk_create(
        Article(url=f"http://blog.test/{n}/", title=f"Article {n}", source=DEMO_FEED)
        for n in range(25)
    )
    answer = client.get("/api/articles", {"page": page})
    assert answer.status_code == 400
    assert answer.json()["error"] == '"page" must be a whole number from 1 to 2.'


def test_articles_are_paginated_and_searched(client):
    Article.objects.bulk_create(
        Article(
            url=f"http://blog.test/{n}/",
            title=f"Celery {n}" if n % 2 else f"Django {n}",
            source=DEMO_FEED,
        )
        for n in range(30)
    )
    second = client.get("/api/articles", {"page": 2}).json()
    assert (second["count"], second["page"], second["pages"]) == (30, 2, 2)
    assert len(second["results"]) == 10 and second["next"] is None
    assert second["previous"].endswith("/api/articles?page=1")
    found = client.get("/api/articles", {"q": "celery"}).json()
    assert found["count"] == 15
    assert all("Celery" in item["title"] for item in found["results"])


@pytest.mark.parametrize(
    "task_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 300], ids=["uuid", "not-a-uuid", "long"]
)
def test_an_id_never_started_is_a_404_not_pending(client, task_id):
    answer = client.get(f"/api/tasks/{task_id}")
    assert answer.status_code == 404
    assert "No scrape was ever started" in answer.json()["error"]


def test_anything_else_under_api_is_a_json_404(client):
    answer = client.get("/api/nothing-here")
    assert answer.status_code == 404 and "Nothing at /api/nothing-here" in answer.json()["error"]


def test_a_scrape_is_published_only_when_its_row_is_committed(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr(tasks.scrape, "apply_async", lambda *a, **kw: published.append(kw))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = post(client, "")  # no body: the demo blog's feed
    assert answer.status_code == 202 and published == []  # not yet: nothing was committed
    run = Scrape.objects.get()
    assert answer.json()["task_id"] == str(run.pk) and run.source == DEMO_FEED
    assert answer["Location"] == answer.json()["status_url"]
    callbacks[0]()  # what COMMIT runs
    assert [options["task_id"] for options in published] == [str(run.pk)]
    assert published[0]["link_error"].name.endswith("tasks.record_failure")
    state = client.get(f"/api/tasks/{run.pk}")
    assert (state.status_code, state.json()["state"]) == (202, "PENDING")


@pytest.mark.django_db(transaction=True)  # real COMMITs: on_commit runs inside the view
def test_a_publish_that_fails_is_a_503_and_leaves_no_scrape(client, monkeypatch):
    def broker_down(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks.scrape, "apply_async", broker_down)
    answer = post(client, json.dumps({"source": DEMO_FEED}))
    assert answer.status_code == 503
    assert "The broker is not reachable, nothing was started" in answer.json()["error"]
    assert Scrape.objects.count() == 0


def look_from_another_connection(scrape_id) -> bool:
    """What a worker would see: a query on a connection of its own (another thread)."""
    seen = []

    def worker():
        seen.append(Scrape.objects.filter(pk=scrape_id).exists())
        connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    return seen[0]


@pytest.mark.needs("postgresql")
@pytest.mark.django_db(transaction=True)
def test_the_race_a_task_published_inside_the_transaction_finds_no_row():
    with transaction.atomic():
        run = Scrape.objects.create(source=DEMO_FEED)
        # Publishing here (scrape.delay(run.pk)) lets a fast worker look before the COMMIT:
        assert look_from_another_connection(run.pk) is False
    assert look_from_another_connection(run.pk) is True


@pytest.mark.needs("postgresql")
@pytest.mark.django_db(transaction=True)
def test_start_scrape_publishes_when_a_worker_can_see_the_row(monkeypatch):
    from step03_django_rabbitmq.articles.publish import start_scrape

    seen = []
    monkeypatch.setattr(
        tasks.scrape,
        "apply_async",
        lambda args, task_id, **options: seen.append(look_from_another_connection(task_id)),
    )
    start_scrape(DEMO_FEED)
    assert seen == [True]


def test_the_pages_answer_and_the_form_refuses_a_source_not_allowed(client):
    Article.objects.create(url="http://blog.test/a/", title="Hello chords", source=DEMO_FEED)
    assert b"Hello chords" in client.get("/").content
    assert b"Hello chords" not in client.get("/", {"q": "nothing like it"}).content
    assert client.get("/tasks/").status_code == 200
    article = Article.objects.get()
    assert b"Hello chords" in client.get(f"/articles/{article.pk}/").content
    answer = client.post("/scrape/", {"source": "https://example.org/feed"}, follow=True)
    assert b"is not in the allowed list" in answer.content
    assert Scrape.objects.count() == 0


def test_a_nul_character_in_the_search_is_a_400_not_a_500(client):
    answer = client.get("/api/articles", {"q": "a\x00b"})
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]
    assert client.get("/", {"q": "a\x00b"}).status_code == 200
