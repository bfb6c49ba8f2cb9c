"""The running step 3 (real Django, worker, demo blog; RabbitMQ and PostgreSQL): scrape, scrape
again, two scrapes at once, the retried page, the dashboard, `check-step03`, a stopped worker."""

from __future__ import annotations

import concurrent.futures
import json
import re

import pytest

from tests.support.tasks import wait_for_task
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "postgresql")

GOOD, BROKEN = 21, 2  # the demo blog: 20 articles + the busy page; a 404 and a page without title


def test_check_step03_passes_on_the_running_step(stack):
    done = stack.workshop("check", "step03", "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ Django answers at" in done.stdout
    assert "✓ RabbitMQ reachable" in done.stdout and "✓ PostgreSQL reachable" in done.stdout
    assert re.search(r"✓ scrape \w+… SUCCESS in [\d.]+ s: 23 links", done.stdout)


def test_two_scrapes_at_once_on_an_empty_database_store_each_article_once(stack):
    stack.sql("DELETE FROM articles_article")
    with stack.client() as client, concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: stack.scrape(client)["result"], range(2)))
    for result in results:
        assert result["failed"] == BROKEN
        assert result["created"] + result["updated"] == GOOD
    assert sum(result["created"] for result in results) == GOOD  # each created once, in all
    assert stack.articles() == GOOD


def test_scraping_again_updates_and_never_duplicates(stack):
    with stack.client() as client:
        stack.scrape(client)
        again = stack.scrape(client)["result"]
        listed = client.get("/api/articles").json()["count"]
    assert (again["created"], again["updated"], again["failed"]) == (0, GOOD, BROKEN)
    assert stack.articles() == listed == GOOD


def test_the_broken_pages_fail_with_their_error_and_the_rest_is_stored(stack):
    with stack.client() as client:
        body = stack.scrape(client)
        dashboard = client.get("/tasks/").text
    errors = {item["url"].rsplit("/", 2)[-2]: item["error"] for item in body["result"]["errors"]}
    assert set(errors) == {"moved-away", "no-title"}
    assert errors["moved-away"].startswith("HTTP 404")
    assert errors["no-title"].startswith("no title in")
    assert "HTTP 404" in dashboard and "no title in" in dashboard
    titles = {row[0] for row in stack.sql("SELECT title FROM articles_article")}
    assert "An article behind a busy server" in titles  # stored after its retries


def test_the_busy_page_is_retried_twice_then_stored(stack):
    with stack.client() as client:
        task_id = client.post("/api/scrape").json()["task_id"]
        wait_for_task(client, task_id, 60)
    rows = stack.sql(
        "SELECT result, task_name, task_args, worker, date_started FROM "
        "django_celery_results_taskresult WHERE task_name LIKE %s AND task_args LIKE %s "
        "ORDER BY date_done DESC LIMIT 1",
        "%.fetch_article",
        "%busy-server%",
    )
    result, name, arguments, worker, started = rows[0]
    assert json.loads(result)["attempts"] == 3
    assert json.loads(result)["outcome"] in ("created", "updated")
    # CELERY_RESULT_EXTENDED and CELERY_TASK_TRACK_STARTED: name, arguments, worker, start.
    assert name.endswith("articles.tasks.fetch_article") and "busy-server" in arguments
    assert worker.startswith(stack.env["WORKER_PREFIX"] + "scraper@") and started is not None
    log = (stack.logs / "worker.log").read_text()
    assert re.search(
        r"fetch_article\[[\w-]+\] retry: Retry in [\d.]+s: TransientError\('HTTP 500", log
    )


def test_the_progress_of_a_scrape_is_counted_by_the_chord(stack):
    with stack.client() as client:
        task_id = client.post("/api/scrape").json()["task_id"]
        seen = []

        def finished():
            body = client.get(f"/api/tasks/{task_id}").json()
            seen.append(body)
            return body["state"] == "SUCCESS"

        wait_until(finished, 60, interval=0.05, what="the scrape done")
    progress = [body["progress"] for body in seen if body["state"] == "PROGRESS"]
    assert progress, f"never seen running: {[body['state'] for body in seen]}"
    assert all(p["total"] == 23 and 0 <= p["done"] <= 23 for p in progress)


def test_the_page_button_starts_a_scrape(stack):
    with stack.client() as client:
        page = client.get("/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        source = f"http://127.0.0.1:{stack.port('blog')}/"  # the index page, this time
        answer = client.post(
            "/scrape/",
            data={"source": source, "csrfmiddlewaretoken": token},
            headers={"Referer": stack.url() + "/"},
            follow_redirects=True,
        )
        assert answer.url.path == "/tasks/" and "started: watch it below" in answer.text
        run = stack.sql("SELECT id FROM articles_scrape WHERE source = %s", source)[0][0]
        assert wait_for_task(client, str(run), 60)["result"]["failed"] == BROKEN
        assert client.post("/scrape/", data={"source": source}).status_code == 403  # no token


def test_errors_are_json_and_never_a_traceback(stack):
    with stack.client() as client:
        headers = {"Content-Type": "application/json"}
        assert client.post("/api/scrape", content="{json}", headers=headers).status_code == 400
        missing = client.get("/api/tasks/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and "Traceback" not in missing.text
        page = client.get("/no-such-page/")
        assert page.status_code == 404 and "Traceback" not in page.text


def test_check_step03_fails_with_a_hint_when_the_worker_is_stopped(stack):
    done = stack.check_without("worker")
    assert done.returncode == 1
    assert "✗ no answer to ping from" in done.stdout
    assert "is the worker running? (make step03 starts it" in done.stdout
    # The scrape it left in the queue is done once the worker is back: nothing is lost.
    wait_until(lambda: stack.workshop("check", "step03", "--timeout", "30").returncode == 0, 120)


def test_ps_shows_the_blog_django_the_worker_and_beat_with_their_roles(stack):
    done = stack.workshop("ps", "step03")
    assert done.returncode == 0, done.stdout + done.stderr
    for role in (
        "supervisord: starts all, restarts any that dies",
        "Gunicorn worker: HTTP → WSGI call into Flask",  # the demo blog
        "Gunicorn master (Django): forks and watches workers",
        "Gunicorn worker: HTTP → WSGI call into Django",
        f"Celery worker {stack.env['WORKER_PREFIX']}scraper@",
        "Celery pool process: runs tasks",
        "Celery beat: sends the scheduled tasks",
    ):
        assert role in done.stdout


def test_stress_follows_every_scrape_to_its_summary(stack):
    done = stack.workshop("stress", "--step", "step03", "-n", "6", "-c", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 requests, 3 concurrent, through django" in done.stdout
    assert re.search(r"unfinished tasks \(accepted, not done after [\d.]+ s\)\s+│ 0", done.stdout)
    assert "baseline" not in done.stdout  # a scrape needs its row: no straight apply_async


def test_a_scrape_whose_source_is_gone_fails_with_its_error(stack):
    gone = f"http://127.0.0.1:{stack.port('blog')}/posts/moved-away/"  # in SCRAPE_SOURCES
    with stack.client() as client:
        body = stack.scrape(client, source=gone)
        dashboard = client.get("/tasks/").text
    assert body["state"] == "FAILURE"
    assert body["error"] == f"PageError: HTTP 404 NOT FOUND at {gone}"
    assert "the scrape failed: PageError: HTTP 404" in dashboard
