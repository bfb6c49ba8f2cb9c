"""The scraper's tasks: read a source, fetch every article in parallel, sum it up (a chord).

    scrape(scrape_id)
      └─ chord( group(fetch_article(url) for each link) , summarize )

`shared_task` binds each task to the project's Celery app (project/__init__.py imports it).
"""

from __future__ import annotations

import os
import signal

from celery import chord, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from . import scraping
from .models import Article, Scrape

log = get_task_logger(__name__)

# Network errors and 5xx answers are tried again: after about 1, 2, 4, 8 s (retry_backoff),
# each a random part of that (retry_jitter: many tasks retrying do not all come back at once),
# four times at most (max_retries).
RETRIED = {
    "autoretry_for": (scraping.TransientError,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 4,
}


# The database away for a moment (restarted, a network blink) raises OperationalError, or
# InterfaceError on a connection it closed. As for a busy page, another try a little later
# may work: the task is tried again, after 1, 2, 4, 8 s..., ten times at most. (Its result is
# written by the result backend, which waits by itself: settings.py, project/results.py.)
DATABASE_AWAY = (OperationalError, InterfaceError)


def after_database_away(task, error: Exception):
    """`task` again, later: raises Retry (or, after the last try, the error itself)."""
    return task.retry(exc=error, countdown=min(2**task.request.retries, 30), max_retries=10)


def http_client():
    scraper = settings.SCRAPER
    return scraping.client(scraper["USER_AGENT"], scraper["TIMEOUT"])


@shared_task(bind=True, soft_time_limit=60, time_limit=75, **RETRIED)
def scrape(self, scrape_id: str) -> dict:
    """Read the source of Scrape `scrape_id`, then start one fetch per article, as a chord."""
    # The view published this task only once the row was committed (transaction.on_commit):
    # published earlier, this line could run first and find nothing.
    try:
        run = Scrape.objects.get(pk=scrape_id)
    except Scrape.DoesNotExist:
        raise LookupError(
            f"no Scrape {scrape_id} in the database: was this task published before the "
            "transaction that creates it committed?"
        ) from None
    except DATABASE_AWAY as error:
        raise after_database_away(self, error) from error
    if run.group_id:  # delivered again (a worker died before its ack): its chord was published
        return {"source": run.source, "found": run.found, "summary_task_id": run.summary_task_id}
    with http_client() as http:
        links = scraping.read_source(http, run.source)
    log.info("scrape %s: %d article links in %s", scrape_id, len(links), run.source)
    header = [fetch_article.s(run.source, link.url, link.hints) for link in links]
    # The callback runs once every fetch has returned, with the list of their results. With
    # django-celery-results, a ChordCounter row counts the fetches still running. If the
    # callback fails (a fetch raised), record_failure marks the scrape as finished.
    workflow = chord(header, summarize.s(scrape_id).on_error(record_failure.s(scrape_id)))
    result = workflow.freeze()  # the ids, known before anything is published
    # Published first, recorded second. A worker killed while it publishes the 23 fetches
    # leaves a row without the chord's ids, and the scrape, delivered again, publishes a whole
    # chord. (Recorded first, the half-published chord would be taken for one that runs: its
    # counter would wait for ever for fetches that were never sent.)
    try:
        workflow.apply_async()  # its ChordCounter row first, then the fetches
        run.found, run.group_id, run.summary_task_id = len(links), result.parent.id, result.id
        run.save(update_fields=["found", "group_id", "summary_task_id"])
    except DATABASE_AWAY as error:  # tried again, it publishes a chord again: no harm
        raise after_database_away(self, error) from error
    return {"source": run.source, "found": len(links), "summary_task_id": result.id}


@shared_task(bind=True, soft_time_limit=30, time_limit=40, **RETRIED)
def fetch_article(self, source: str, url: str, hints: dict) -> dict:
    """Download and store one article. A broken page is reported in the result, not raised:
    a task that raises inside a chord's group fails the whole chord, and one broken article
    must not fail the scrape."""
    attempts = self.request.retries + 1
    try:
        with http_client() as http:
            page = scraping.download(http, url)
        fields = scraping.parse_article(page.url, page.text, hints)
    except scraping.TransientError as error:
        if self.request.retries < self.max_retries:
            raise  # autoretry_for: Celery publishes this task again, after a backoff
        return failed(url, f"{error} (still, after {attempts} attempts)", attempts)
    except scraping.PageError as error:
        return failed(url, str(error), attempts)
    except SoftTimeLimitExceeded:
        return failed(url, "took longer than the task's time limit", attempts)
    # The URL is unique: a second scrape updates the row. update_or_create locks the row, and
    # when two scrapes create it at once the loser finds the winner's row instead of failing.
    try:
        article, created = Article.objects.update_or_create(
            url=url, defaults={**fields, "source": source}
        )
    except DATABASE_AWAY as error:
        if self.request.retries < 10:
            raise after_database_away(self, error) from error
        log.exception("article %s could not be stored", url)
        return failed(url, f"could not be stored: {type(error).__name__}: {error}", attempts)
    except (DatabaseError, SoftTimeLimitExceeded) as error:
        log.exception("article %s could not be stored", url)
        return failed(url, f"could not be stored: {type(error).__name__}: {error}", attempts)
    return {
        "url": url,
        "outcome": "created" if created else "updated",
        "article": article.pk,
        "attempts": attempts,
    }


def failed(url: str, error: str, attempts: int) -> dict:
    log.warning("article %s failed: %s", url, error)
    return {"url": url, "outcome": "failed", "error": error, "attempts": attempts}


@shared_task
def record_failure(request, exc, traceback, scrape_id: str) -> None:
    """An errback (link_error): the scrape, or its chord's callback, failed. Mark the scrape as
    finished, with the error, so that nothing waits for it."""
    Scrape.objects.filter(pk=scrape_id, finished_at=None).update(
        finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:2000]
    )


@shared_task(bind=True, soft_time_limit=30, time_limit=40)
def summarize(self, results: list[dict], scrape_id: str) -> dict:
    """The chord's callback: how many articles were created, updated and failed."""
    outcomes = [result["outcome"] for result in results]
    errors = [{"url": r["url"], "error": r["error"]} for r in results if r["outcome"] == "failed"]
    counts = {name: outcomes.count(name) for name in ("created", "updated", "failed")}
    try:
        Scrape.objects.filter(pk=scrape_id).update(
            **counts, errors=errors, finished_at=timezone.now()
        )
    except DATABASE_AWAY as error:
        raise after_database_away(self, error) from error
    return {**counts, "found": len(results), "errors": errors}


@shared_task
def scheduled_scrape(source: str = "") -> str:
    """What Celery beat sends on the schedule (README, section 9): a scrape, started as the
    view starts one. The id of its Scrape row."""
    from .publish import start_scrape  # publish.py imports this module

    run = start_scrape(source or settings.SCRAPER["DEFAULT_SOURCE"], scheduled=True)
    return str(run.pk)


@shared_task(bind=True)
def poison(self) -> None:
    """A poison message (README, section 8): it kills the pool process that runs it, every
    time. With late acks, RabbitMQ gets the message back each time and delivers it again."""
    redelivered = self.request.delivery_info.get("redelivered")
    log.warning(
        "poison %s (redelivered: %s): killing pool process %d",
        self.request.id,
        redelivered,
        os.getpid(),
    )
    os.kill(os.getpid(), signal.SIGKILL)
