"""Every exercise is a fair one: its stub FAILS its verification, with a message that points to
the fix, and the solution (the lesson files, which the other tests of this folder judge) passes.
A different correct solution passes too, and the stubs all at once come back to the solution.

The stubs are applied in a copy of the repository, never in the files the other tests read."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from workshop import exercises
from workshop.settings import ROOT

EXERCISES = {ex.id: ex for _, ex in exercises.all_exercises().values()}
# What the failing verification of each stub must say: where the fix is.
POINTS_TO = {
    "01.1": "a module imports the app",
    "01.2": "app.app_context()",
    "01.3": "before publishing",
    "01.4": "update_state",
    "02.1": "X-Forwarded",
    "02.2": "Acknowledge it after the task ran",
    "02.3": "ON CONFLICT",
    "03.1": "import the project's Celery app",
    "03.3": "once the transaction commits",
    "03.2": "autoretry_for",
    "03.4": "Return the page as failed",
    "04.1": "task_routes",
    "04.2": "the chord is not built yet",
    "04.3": "Save the group",
    "04.4": "Mark it REVOKED",
}


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """The repository's tracked files, in a folder of their own."""
    root = tmp_path_factory.mktemp("repository")
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in tracked:
        if name.startswith(("slides/", "notebooks/")):
            continue
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    return root


def test_every_exercise_is_declared_with_what_it_needs():
    assert len(EXERCISES) >= 12 and set(EXERCISES) == set(POINTS_TO)
    for step in {ex_id[:2] for ex_id in EXERCISES}:
        mine = [ex for ex in EXERCISES.values() if ex.id.startswith(step)]
        assert sum(ex.core for ex in mine) >= 2 and any(not ex.core for ex in mine), step
    for exercise in EXERCISES.values():
        assert len(exercise.hints) >= 2 and exercise.tests and exercise.files, exercise.id
        assert exercises.where(exercise) == "solution", f"{exercise.id}: the lesson files"
        for test in exercise.tests:
            path, name = test.split("::")
            assert f"def {name}(" in (ROOT / path).read_text(), f"{exercise.id}: no {test}"


@pytest.mark.parametrize("exercise_id", list(POINTS_TO))
def test_the_stub_fails_with_a_message_that_points_to_the_fix(copy, exercise_id):
    exercise = EXERCISES[exercise_id]
    exercises.patch(exercise, "stub", copy)
    try:
        outcomes = exercises.run_tests(exercise, root=copy)
    finally:
        exercises.patch(exercise, "solution", copy)
    failed = [outcome for outcome in outcomes if not outcome.passed]
    assert failed, f"{exercise_id}: its stub passes its verification: {outcomes}"
    messages = " ".join(outcome.message for outcome in failed)
    assert "could not run" not in messages, messages
    assert POINTS_TO[exercise_id] in messages, messages


# A correct answer that is not the shipped one: (file, the solution's lines, another answer).
OTHER_ANSWERS = {
    "01.3": (
        "step01_flask_celery/app/views.py",
        "    result.backend.store_result(task_id, None, states.PENDING)\n",
        '    process_data.update_state(task_id=task_id, state="PENDING")\n',
    ),
    "03.3": (
        "step03_django_rabbitmq/articles/publish.py",
        "            scrape.apply_async_on_commit(\n                (str(run.pk),),\n",
        "            on_commit = transaction.on_commit\n"
        "            on_commit(lambda: scrape.apply_async(\n                (str(run.pk),),\n",
    ),
    "04.1": (
        "step04_fastapi_canvas/celeryconfig.py",
        'task_routes = {\n    "step04_fastapi_canvas.tasks.arithmetic.add": {"queue": SUM_QUEUE},\n'
        '    "step04_fastapi_canvas.tasks.arithmetic.sum_multiply": {"queue": SUM_QUEUE},\n}',
        "def by_name(name, args, kwargs, options, task=None, **kw):\n"
        '    if name.rsplit(".", 1)[-1] in ("add", "sum_multiply"):\n'
        '        return {"queue": SUM_QUEUE}\n'
        "    return None\n\n\ntask_routes = (by_name,)",
    ),
}


@pytest.mark.parametrize("exercise_id", list(OTHER_ANSWERS))
def test_another_correct_answer_passes(copy, exercise_id):
    path, shipped, other = OTHER_ANSWERS[exercise_id]
    text = (copy / path).read_text()
    assert text.count(shipped) == 1, f"{path} changed: update this test's answer"
    answer = text.replace(shipped, other)
    if exercise_id == "03.3":  # the call's closing parenthesis, for the lambda's
        answer = answer.replace(
            "link_error=record_failure.s(str(run.pk)),\n            )",
            "link_error=record_failure.s(str(run.pk)),\n            ))",
        )
    (copy / path).write_text(answer)
    try:
        outcomes = exercises.run_tests(EXERCISES[exercise_id], root=copy)
    finally:
        (copy / path).write_text(text)
    assert outcomes and all(outcome.passed for outcome in outcomes), outcomes


def test_every_stub_at_once_then_back_leaves_the_tree_as_it_was(copy):
    before = {path: path.read_bytes() for path in copy.rglob("step0*/**/*") if path.is_file()}
    assert exercises.strip(copy) == list(EXERCISES)
    assert any(path.read_bytes() != text for path, text in before.items())
    assert exercises.restore(copy) == list(reversed(EXERCISES))
    assert all(path.read_bytes() == text for path, text in before.items())
