"""Step 1's exercises, judged by what the app does (make verify EX=01.N)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from workshop.settings import ROOT


def step01_app(embedded):
    embedded("step01", TASK_SECONDS="0")
    from step01_flask_celery.app import create_app

    return create_app()


def test_01_1_the_app_starts(embedded):
    embedded("step01")  # in this process's environment: the child inherits it
    code = "from step01_flask_celery.app import create_app; create_app()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    last = (done.stderr.strip().splitlines() or [""])[-1]
    assert done.returncode == 0, (
        f"importing the app fails: {last}. Read the traceback from the bottom up: a module "
        "imports the app, which is still importing that module"
    )


def test_01_1_a_request_publishes_through_the_celery_of_the_app(embedded):
    variables = embedded("step01", TASK_SECONDS="0")
    app = step01_app(embedded)
    celery = app.extensions["celery"]
    name = "step01_flask_celery.app.tasks.process_data"
    assert name in celery.tasks, f"the app's Celery does not know {name}: a worker would refuse it"
    sent = app.test_client().post("/api/process_data", json={"seconds": 0})
    assert sent.status_code == 202, f"POST answered {sent.status_code}: {sent.get_data(True)}"
    folder = f"{variables['CELERY_BROKER_FOLDER']}/messages"
    found = list(Path(folder).glob("*.msg"))
    assert len(found) == 1 and name in found[0].read_text(), (
        "the task was not published through the app's Celery (its broker, the folder "
        f"{folder}): it went to another Celery app, made when tasks.py was imported"
    )


def test_01_2_a_task_runs_inside_the_app_context(embedded):
    app = step01_app(embedded)
    from step01_flask_celery.app.tasks import process_data

    result = process_data.apply(args=({}, 0))
    error = f"{type(result.result).__name__}: {str(result.result).splitlines()[0]}"
    assert result.successful(), (
        f"the task failed: {error} Make every task of this Celery app run inside app.app_context()"
    )
    assert result.result["app"] == app.name


def test_01_3_a_task_just_sent_is_queued_not_unknown(embedded):
    client = step01_app(embedded).test_client()  # no worker runs: the task stays queued
    sent = client.post("/api/process_data", json={"seconds": 1})
    assert sent.status_code == 202, f"POST answered {sent.status_code}: {sent.get_data(True)}"
    answer = client.get(sent.json["status_url"])
    assert answer.status_code == 202 and answer.json["state"] == "PENDING", (
        f"a task just sent, that no worker took yet, answers {answer.status_code} "
        f"{answer.json}: GET cannot tell it from an id never submitted. Record its id in the "
        "result backend (as PENDING) before publishing"
    )


def test_01_3_an_id_never_sent_is_404(embedded):
    answer = step01_app(embedded).test_client().get(f"/api/tasks/{uuid.uuid4()}")
    assert answer.status_code == 404, (
        f"an id never submitted answers {answer.status_code}: it must be 404 (exists() is "
        "False for it)"
    )


def test_01_4_the_task_reports_its_progress(embedded, monkeypatch):
    app = step01_app(embedded)
    from step01_flask_celery.app.tasks import process_data

    backend, seen = app.extensions["celery"].backend, []
    store = backend.store_result

    def spy(task_id, result, state, *args, **kwargs):
        seen.append((state, result))
        return store(task_id, result, state, *args, **kwargs)

    monkeypatch.setattr(backend, "store_result", spy)
    assert process_data.apply(args=({}, 0.6)).successful()
    progress = [meta for state, meta in seen if state == "PROGRESS"]
    assert len(progress) >= 2, (
        f"the task reported {len(progress)} PROGRESS state(s): a client polling it sees none. "
        "Call self.update_state(state='PROGRESS', meta=...) as the work goes"
    )
    percents = [meta.get("percent") for meta in progress if isinstance(meta, dict)]
    assert percents and percents[-1] == 100 and percents == sorted(percents), (
        f'the PROGRESS states said {progress}: each needs a "percent" that rises to 100 (and '
        '"done" and "total")'
    )
