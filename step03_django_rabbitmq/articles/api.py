"""The JSON API, for scripts and `make check-step03`:

    POST /api/scrape            {"source": url} (optional) -> 202 {"task_id", "status_url"}
    GET  /api/tasks/<task_id>   202 while queued or running, 200 when done, 404 if never started
    GET  /api/articles?q=&page= the stored articles, 20 per page
    GET  /api/schedule          what Celery beat sends, and the last scrape it started
    GET  /health                which broker, result backend and database this site uses

Every error is JSON with a clear message: {"error": ...}.
"""

from __future__ import annotations

import functools
import json
import socket
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from celery import states
from celery.result import AsyncResult
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import DatabaseError, connection
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import ChordCounter, TaskResult
from kombu.utils.url import maybe_sanitize_url

from . import sources, tasks
from .models import Article, Scrape
from .publish import BrokerUnavailable, start_scrape

MAX_BODY = 64 * 1024  # bytes: a scrape request is a few dozen
PAGE_SIZE = 20


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def only(method: str):
    """Another method gets a JSON 405 (Django's require_GET answers with an empty body). GET
    answers HEAD too, as HTTP asks: the server sends the headers without the body. The API is
    exempt from CSRF: it reads no cookie, so there is no cross-site request to forge, and a
    wrong method gets this 405 instead of the CSRF middleware's HTML 403."""
    allowed = ("GET", "HEAD") if method == "GET" else (method,)

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def checked(request: HttpRequest, *args, **kwargs):
            if request.method not in allowed:
                answer = error(405, f"{request.method} is not allowed here: use {method}.")
                answer["Allow"] = ", ".join(allowed)
                return answer
            return view(request, *args, **kwargs)

        return checked

    return decorate


def read_json_body(request: HttpRequest) -> dict | JsonResponse:
    """The body as a JSON object ({} when there is none), or the error to answer. Read whole
    before anything starts: a body the view cannot read must never pass for an empty one."""
    if "Transfer-Encoding" in request.headers:
        # Django reads as many bytes as Content-Length says: a chunked body would look empty,
        # and the scrape would start on the default source instead of the one asked for.
        return error(411, "Send the body with a Content-Length (chunked bodies are not read).")
    length = request.headers.get("Content-Length") or "0"
    if not length.isdigit():  # "abc", "-1", "1e3"
        return error(400, "Content-Length must be a whole number of bytes.")
    size = int(length)
    if size > MAX_BODY:
        return error(413, f"The body is over {MAX_BODY // 1024} KB.")
    if not request.body.strip():
        return {}
    if request.content_type != "application/json":  # a form, XML, text: not what it reads
        return error(415, "Send the body as JSON, with Content-Type: application/json.")
    try:
        payload = json.loads(request.body)
    except RecursionError:  # [[[[...]]]] thousands deep
        return error(400, "The body is nested too deeply.")
    except ValueError as problem:  # not JSON, not UTF-8, or a number of 5000 digits
        return error(400, f"The body is not JSON: {str(problem)[:200]}.")
    if not isinstance(payload, dict):
        return error(400, 'The body must be a JSON object, like {"source": "<url>"}.')
    return payload


@only("POST")
def scrape(request: HttpRequest) -> JsonResponse:
    payload = read_json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    unknown = sorted(set(payload) - {"source"})
    if unknown:
        return error(400, f'Unknown field(s): {", ".join(unknown)}. Only "source" is read.')
    try:
        source = sources.check(payload.get("source", settings.SCRAPER["DEFAULT_SOURCE"]))
    except ValidationError as problem:
        return error(400, problem.messages[0])
    try:
        run = start_scrape(source)
    except BrokerUnavailable as problem:
        return error(503, f"The broker is not reachable, nothing was started: {problem}")
    status_url = request.build_absolute_uri(reverse("api-task", args=[run.pk]))
    answer = JsonResponse({"task_id": str(run.pk), "status_url": status_url}, status=202)
    answer["Location"] = status_url
    return answer


@only("GET")
def task(request: HttpRequest, task_id: str) -> JsonResponse:
    """A scrape's state. Celery calls every id it does not know PENDING; the Scrape row tells
    "queued" (a row) from "never started" (no row: 404)."""
    try:
        run = Scrape.objects.filter(pk=uuid.UUID(task_id)).first()
    except ValueError:
        run = None
    if run is None:
        return error(404, f"No scrape was ever started with the id {task_id[:64]!r}.")
    body = {"task_id": str(run.pk), "source": run.source}
    if run.error:  # recorded by the errback record_failure
        return JsonResponse({**body, "state": states.FAILURE, "error": run.error})
    if run.finished_at:
        result = {**run.counts(), "found": run.found, "errors": run.errors}
        return JsonResponse({**body, "state": states.SUCCESS, "result": result})
    for failed in (run.pk, run.summary_task_id):  # the scrape itself, or its chord's callback
        outcome = AsyncResult(str(failed)) if failed else None
        if outcome is not None and outcome.state == states.FAILURE:
            problem = f"{type(outcome.result).__name__}: {outcome.result}"
            return JsonResponse({**body, "state": states.FAILURE, "error": problem})
    if run.group_id:  # the fetches are running: the chord counter says how many are left
        counter = ChordCounter.objects.filter(group_id=run.group_id).first()
        why = stranded(counter)
        if why:  # its callback can never run: say so, instead of PROGRESS for ever
            return JsonResponse({**body, "state": states.FAILURE, "error": why})
        done = run.found - counter.count if counter else run.found
        progress = {"done": done, "total": run.found}
        return JsonResponse({**body, "state": "PROGRESS", "progress": progress}, status=202)
    return JsonResponse({**body, "state": AsyncResult(str(run.pk)).state}, status=202)


def stranded(counter: ChordCounter | None) -> str | None:
    """Why a scrape's chord can never call its callback, or None while it still may.

    A fetch STARTED longer ago than its hard time limit is not running any more: its worker
    would have killed it. If its result was never written (the worker was lost, or the
    database was away longer than the result backend waits), the chord counter waits for it
    for ever, and the scrape would say PROGRESS for ever.
    """
    if counter is None:  # every fetch counted: the callback runs, or ran
        return None
    fetches = [child.id for child in counter.group_result().results]
    limit = tasks.fetch_article.time_limit + 30  # seconds
    lost = TaskResult.objects.filter(
        task_id__in=fetches,
        status=states.STARTED,
        date_started__lt=timezone.now() - timedelta(seconds=limit),
    ).count()
    if not lost:
        return None
    return (
        f"stranded: {lost} of its {len(fetches)} fetches started more than {limit} s ago and "
        "never stored a result (their worker was lost, or could not write it): its chord will "
        "never finish. Scrape again."
    )


@only("GET")
def articles(request: HttpRequest) -> JsonResponse:
    if "\x00" in request.GET.get("q", ""):
        return error(400, '"q" must not contain NUL characters.')
    found = search(request.GET.get("q", ""))
    pages = Paginator(found, PAGE_SIZE)
    try:
        page = pages.page(request.GET.get("page", 1))
    except (PageNotAnInteger, EmptyPage):
        last = pages.num_pages
        return error(400, f'"page" must be a whole number from 1 to {last}.')

    def link(number: int) -> str:
        query = request.GET.copy()
        query["page"] = number
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return JsonResponse(
        {
            "count": pages.count,
            "page": page.number,
            "pages": pages.num_pages,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "previous": link(page.previous_page_number()) if page.has_previous() else None,
            "results": [as_json(article) for article in page],
        }
    )


def search(text: str):
    """Articles whose title, author or summary contains `text` (all of them when it is empty)."""
    found = Article.objects.all()
    words = text.replace("\x00", "").strip()  # the database refuses NUL characters
    if words:
        found = found.filter(
            Q(title__icontains=words) | Q(author__icontains=words) | Q(summary__icontains=words)
        )
    return found


def as_json(article: Article) -> dict:
    return {
        "id": article.pk,
        "url": article.url,
        "title": article.title,
        "author": article.author,
        "published": article.published.isoformat() if article.published else None,
        "summary": article.summary,
    }


@only("GET")
def schedule(request: HttpRequest) -> JsonResponse:
    """Celery beat's schedule, as it keeps it in this database (django-celery-beat), and the
    last scrape it started: how `make check-step03` knows beat does its job."""
    last = Scrape.objects.filter(scheduled=True).first()
    entries = []
    for entry in PeriodicTask.objects.order_by("name"):
        every = entry.interval.schedule.run_every.total_seconds() if entry.interval else None
        # Beat counts an interval from the last run (it writes last_run_at to the database
        # every few minutes only), or from when the entry was saved (at each start of beat,
        # for the entries of settings.py). The last scheduled scrape says when it last ran.
        ran = [entry.last_run_at, entry.date_changed]
        if last and entry.task.endswith(".scheduled_scrape"):
            ran.append(last.requested_at)
        since = max((when for when in ran if when), default=None)
        due = since + timedelta(seconds=every) if every and since else None
        entries.append(
            {
                "name": entry.name,
                "task": entry.task,
                "schedule": str(entry.interval or entry.crontab or entry.clocked or ""),
                "every_seconds": every,
                "enabled": entry.enabled,
                "due_at": due and due.isoformat(),
            }
        )
    scraped = last and {
        "task_id": str(last.pk),
        "requested_at": last.requested_at.isoformat(),
        "finished_at": last.finished_at and last.finished_at.isoformat(),
        "error": last.error,
    }
    return JsonResponse({"entries": entries, "last_scheduled_scrape": scraped})


@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    return error(
        404,
        f"Nothing at {request.path}: the API is /api/scrape, /api/tasks/<id>, /api/articles, "
        "/api/schedule.",
    )


@only("GET")
def health(request: HttpRequest) -> JsonResponse:
    """The broker, the result backend and the database this site uses, and whether each answers
    now: "ok" and 200, or "degraded" and 503 (what a container's health check reads)."""
    broker = settings.CELERY_BROKER_URL
    database = {
        "url": maybe_sanitize_url(settings.DATABASE_URL),
        "embedded": settings.DATABASE_URL.startswith("sqlite"),
        "reachable": database_answers(),
    }
    backend = settings.CELERY_RESULT_BACKEND
    described = {
        "broker": {
            "url": maybe_sanitize_url(broker),
            "embedded": broker.startswith("filesystem://"),
            "reachable": accepts(broker),
        },
        # django-db keeps the results in the database itself.
        "result_backend": database
        if backend == "django-db"
        else {"url": maybe_sanitize_url(backend), "embedded": False, "reachable": accepts(backend)},
        "database": database,
    }
    up = all(service["reachable"] for service in described.values())
    embedded = any(service["embedded"] for service in described.values())
    body = {
        "status": "ok" if up else "degraded",
        "embedded": embedded,
        **described,
    }
    return JsonResponse(body, status=200 if up else 503)


def database_answers() -> bool:
    """One round trip to the database, through Django's own connection."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


def accepts(url: str) -> bool:
    """Whether a server takes a TCP connection at the URL's host and port (a quick probe)."""
    parts = urlsplit(url)
    if parts.hostname is None:  # filesystem://: the embedded default, no server
        return True
    port = parts.port or {"amqp": 5672, "redis": 6379}.get(parts.scheme, 0)
    try:
        socket.create_connection((parts.hostname, port), timeout=0.3).close()
    except OSError:
        return False
    return True
