"""`make faults STEP=step03` shortened: scrapes (a chord of 23 fetches each) under load while the
worker dies, RabbitMQ is away, and PostgreSQL is away or restarted (a cluster of its own, which
holds the articles, the results and the chord counter): no scrape failed, stranded or lost.
And a chord that is stranded all the same is reported as such, not PROGRESS for ever."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_results.models import ChordCounter, TaskResult

from step03_django_rabbitmq.articles.models import Scrape
from tests.step03.conftest import NEEDS
from tests.support import faults
from tests.support.services import STRICT
from workshop.faults.core import Workload
from workshop.probe import free_port


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory):
    """Step 3 on a PostgreSQL cluster of its own (restarted by a scenario), behind relays.
    Each scrape reads the 5 newest posts of the demo blog (its 3 broken pages among them); a
    client starts one every 1.5 s (below Gunicorn's 2 s keep-alive: an idle connection that
    the server closes just as the client reuses it would count as a failed request)."""
    blog = free_port()
    feed = f"http://127.0.0.1:{blog}/feed.xml?limit=5"
    load = Workload("/api/scrape", {"source": feed}, "task_id", "/api/tasks/{id}", 1, 1.5)
    run_dir = tmp_path_factory.mktemp("scrapes")
    with faults.chord_stack(
        "step03", run_dir, load, DEMO_BLOG_PORT=str(blog), SCRAPE_SOURCES=feed
    ) as stack:
        yield stack


# Every scenario in one test, each a subtest: pytest-xdist cannot send them to two pytest
# processes, and the stack starts once.
@pytest.mark.timeout(400)
def test_a_server_that_blinks_delays_a_scrape_never_fails_it(scrapes, subtests):
    for scenario in faults.scenarios("step03"):
        with subtests.test(msg=scenario.name):
            tally, printed = faults.run(scrapes, scenario)
            faults.assert_nothing_lost(scrapes, tally, printed)
            if "down" in scenario.name:  # the outage was seen: quick 503s meanwhile
                assert tally.requests["503"], printed


# In services mode (CI), a missing server fails this test (conftest.py), as in test_api.py.
@pytest.mark.django_db
@(pytest.mark.needs(*NEEDS) if STRICT else lambda test: test)
def test_a_stranded_scrape_is_reported_not_progress_for_ever(client):
    """A fetch that started longer ago than its time limit and never stored its result: the
    chord counter would wait for ever. The API says FAILURE, with why."""
    fetches = [str(uuid.uuid4()) for _ in range(3)]
    run = Scrape.objects.create(
        source="http://127.0.0.1:8004/feed.xml", found=3, group_id=str(uuid.uuid4())
    )
    tuples = [[[fetch, None], None] for fetch in fetches]
    ChordCounter.objects.create(group_id=run.group_id, sub_tasks=json.dumps(tuples), count=1)
    for fetch in fetches[:2]:
        TaskResult.objects.create(task_id=fetch, status="SUCCESS")
    stuck = TaskResult.objects.create(task_id=fetches[2], status="STARTED")

    answer = client.get(f"/api/tasks/{run.pk}")
    assert answer.status_code == 202 and answer.json()["progress"] == {"done": 2, "total": 3}

    TaskResult.objects.filter(pk=stuck.pk).update(
        date_started=timezone.now() - timedelta(seconds=75)
    )
    answer = client.get(f"/api/tasks/{run.pk}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "FAILURE"
    assert answer.json()["error"].startswith("stranded: 1 of its 3 fetches started more than 70 s")
