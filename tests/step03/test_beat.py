"""Section 9 of the lesson: Celery beat, run by `make step03` under supervisord, scrapes on the
schedule it keeps in PostgreSQL; `check-step03` sees it. A second beat sends everything twice,
and the scraper's storage makes the duplicates harmless."""

from __future__ import annotations

import os
import re
import sys

import pytest

from tests.step03.conftest import stack03
from tests.support.processes import Process
from workshop.settings import ROOT
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "postgresql")

ENTRY = "scrape the demo blog"


def sent(log: str) -> int:
    """How many times a beat's log says it sent the scheduled scrape."""
    return len(re.findall(rf"Sending due task {ENTRY} \(", log))


def test_beat_scrapes_on_schedule_and_a_second_beat_sends_everything_twice(
    tmp_path_factory, tmp_path
):
    with stack03(tmp_path_factory, "beat", SCRAPE_EVERY="3") as stack, stack.client() as client:

        def scheduled() -> dict | None:
            last = client.get("/api/schedule").json()["last_scheduled_scrape"]
            return last if last and last["finished_at"] else None

        first = wait_until(scheduled, 60, interval=0.5, what="a scheduled scrape, finished")
        assert stack.sql("SELECT scheduled FROM articles_scrape WHERE id = %s", first["task_id"])
        entry = next(e for e in client.get("/api/schedule").json()["entries"] if e["name"] == ENTRY)
        assert (entry["every_seconds"], entry["enabled"]) == (3.0, True)
        # What the learner's check says, with the schedule of the step's database.
        done = stack.workshop("check", "step03", "--timeout", "60")
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"✓ beat started scrape \w+… at [\d:]+ \(every 3 seconds\)", done.stdout)
        assert re.search(r"✓ \S+ consumes \S+, a quorum queue: delivery limit 5", done.stdout)

        # A second beat, by hand, on the same schedule: each one sends on its own.
        own = lambda: sent((stack.logs / "beat.log").read_text())  # noqa: E731
        before = own()
        variables = {**os.environ, **stack.environment().variables, "DJANGO_DEBUG": "false"}
        command = [sys.executable, "-m", "celery", "-A", "step03_django_rabbitmq.project", "beat"]
        command.append("--loglevel=INFO")
        beat = Process("beat2", command, tmp_path, variables, ROOT)
        try:
            wait_until(lambda: sent(beat.log()) >= 2, 30, interval=0.5, what="beat2 sending")
            assert own() - before >= 2  # meanwhile the step's beat sent too: twice the scrapes
        finally:
            beat.kill()
        # Every scrape wrote the same 21 articles: unique URLs, update_or_create.
        assert stack.articles() == 21
