"""Step 3's exercises, judged by what Django and the tasks do (make verify EX=03.N).

Each runs in a fresh interpreter, Django set up on the embedded default (a SQLite database with
its migrations, a broker in a folder): Django is set up once per process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from workshop.environment import env_with_venv, environment
from workshop.settings import ROOT
from workshop.steps import STEPS

PAGE, SOURCE = "http://blog.test/posts/a/", "http://blog.test/feed.xml"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A database with step 3's tables, made once; each test gets a copy."""
    folder = tmp_path_factory.mktemp("step03-db")
    env = variables(folder)
    manage = [sys.executable, "step03_django_rabbitmq/manage.py", "migrate", "--noinput"]
    done = subprocess.run(manage, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "django.sqlite3"


def variables(folder) -> dict[str, str]:
    given = {"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(folder)}
    return env_with_venv(
        {
            **environment(STEPS["step03"], given).variables,
            "DJANGO_SETTINGS_MODULE": "step03_django_rabbitmq.project.settings",
        }
    )


def django(code: str, migrated=None, tmp_path=None) -> dict:
    """Run `code` with Django set up; what it printed last, read as JSON."""
    env = (
        variables(tmp_path)
        if tmp_path
        else env_with_venv({"DJANGO_SETTINGS_MODULE": "step03_django_rabbitmq.project.settings"})
    )
    if migrated:
        shutil.copyfile(migrated, tmp_path / "django.sqlite3")
    script = "import json, django\ndjango.setup()\n" + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = (done.stderr.strip().splitlines() or [""])[-1]
    assert done.returncode == 0, f"Django or the tasks fail to load: {last}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_03_1_the_tasks_are_bound_to_the_celery_app_of_the_project():
    found = django("""
        from step03_django_rabbitmq.articles.tasks import scrape
        print(json.dumps({"app": scrape.app.main, "queue": scrape.app.conf.task_default_queue,
                          "on_commit": hasattr(scrape, "apply_async_on_commit")}))
    """)
    assert found["app"] == "project" and found["on_commit"], (
        f"the web process's tasks are bound to the Celery app {found['app']!r} (queue "
        f"{found['queue']!r}), which read none of the CELERY_ settings: their messages go where "
        "no worker listens. Make Django import the project's Celery app whenever it starts"
    )


FAKE_NETWORK = """
    import httpx
    from step03_django_rabbitmq.articles import tasks

    codes = iter({codes})

    def serve(request):
        code = next(codes, {codes}[-1])
        return httpx.Response(code, text="<h1>Hello</h1>" if code == 200 else "not now")

    tasks.http_client = lambda: httpx.Client(transport=httpx.MockTransport(serve))
    done = tasks.fetch_article.apply(args=("{source}", "{page}", {{}}))
    error = f"{{type(done.result).__name__}}: {{done.result}}"
    answer = done.result if done.successful() else error
    print(json.dumps({{"state": done.state, "result": answer}}))
"""


def fetch(codes: list[int], migrated, tmp_path) -> dict:
    """fetch_article, run here (Celery's apply, retries included), on a page answering `codes`."""
    return django(FAKE_NETWORK.format(codes=codes, source=SOURCE, page=PAGE), migrated, tmp_path)


def test_03_3_the_task_is_published_once_its_row_is_committed(migrated, tmp_path):
    found = django(
        """
        import sqlite3
        from celery.signals import before_task_publish
        from django.conf import settings

        seen = []

        @before_task_publish.connect
        def look(headers=None, **kwargs):
            # What another process (a worker) can read at this moment: committed rows only.
            with sqlite3.connect(settings.DATABASES["default"]["NAME"]) as other:
                rows = other.execute("SELECT id FROM articles_scrape").fetchall()
            seen.append(len(rows))

        from step03_django_rabbitmq.articles.publish import start_scrape

        start_scrape(settings.SCRAPER["DEFAULT_SOURCE"])
        print(json.dumps({"seen": seen}))
        """,
        migrated,
        tmp_path,
    )
    assert found["seen"], "start_scrape published no task"
    assert found["seen"] == [1], (
        "the task was published while its Scrape row was not committed yet: a worker that takes "
        "it at once finds no row (LookupError). Publish it once the transaction commits"
    )


def test_03_2_a_busy_page_is_tried_again(migrated, tmp_path):
    found = fetch([500, 500, 200], migrated, tmp_path)
    assert found["state"] == "SUCCESS" and found["result"]["outcome"] == "created", (
        f"a page that answers 500 twice, then the page, ended as {found['state']} "
        f"{found['result']}: the first 500 was final. Let Celery retry on TransientError "
        "(autoretry_for), with a backoff, a few times at most"
    )
    assert found["result"]["attempts"] == 3


def test_03_2_a_page_that_stays_busy_is_reported_not_retried_forever(migrated, tmp_path):
    found = fetch([503], migrated, tmp_path)
    result = found["result"]
    assert found["state"] == "SUCCESS" and result["outcome"] == "failed", (
        f"a page that always answers 503 ended as {found['state']} {result}: after the last "
        "retry it must be reported as failed (max_retries bounds the tries)"
    )
    assert 3 <= result["attempts"] <= 10, f"{result['attempts']} attempts: retry a few times"


def test_03_4_a_page_that_cannot_be_read_is_reported_not_raised(migrated, tmp_path):
    found = fetch([404], migrated, tmp_path)
    assert found["state"] == "SUCCESS" and found["result"]["outcome"] == "failed", (
        f"a page that answers 404 ends the task as {found['state']} ({found['result']}): in a "
        "chord's header, one failed task fails the whole scrape. Return the page as failed, "
        "with its error, as the other broken pages are"
    )
    assert "404" in found["result"]["error"]
