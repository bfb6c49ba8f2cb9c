"""Step 4's lesson and its program agree: the answers its README prints are the app's own, and
the bound on TASK_DELAY_SCALE keeps `add` under its soft time limit, as the README says."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from workshop.settings import ROOT

README = ROOT / "step04_fastapi_canvas" / "README.md"
ADD_SECONDS = 20  # tasks/arithmetic.py: ten steps of 2 s, times TASK_DELAY_SCALE


def printed(command: str) -> tuple[str, str, dict | None, dict]:
    """The README's `$ curl ...` line for `command`, read: method, path, body, and the answer
    printed under it."""
    lines = README.read_text().splitlines()
    line = f"$ curl -s {command}"
    assert line in lines, f"the README no longer shows `{line}`"
    answer = json.loads(lines[lines.index(line) + 1])
    method = re.search(r"-X (\w+)", command)
    body = re.search(r"-d '(.*)'", command)
    path = re.search(r"localhost:8001(\S+)", command).group(1)
    return (
        method.group(1) if method else "GET",
        path,
        json.loads(body.group(1)) if body else None,
        answer,
    )


@pytest.fixture(scope="module")
def app():
    from fastapi.testclient import TestClient

    from step04_fastapi_canvas.main import app

    return TestClient(app, base_url="http://localhost")


def test_the_422_the_readme_prints_is_the_apps(app):
    method, path, body, answer = printed(
        "-X POST localhost:8001/workflows/chord -H 'Content-Type: application/json' "
        """-d '{"a": "three", "b": 4}'"""
    )
    real = app.request(method, path, json=body)
    assert real.status_code == 422 and real.json() == answer


@pytest.mark.needs("redis")
def test_the_404_the_readme_prints_is_the_apps(app):
    method, path, body, answer = printed(
        "localhost:8001/result/3f1c0000-0000-0000-0000-000000000000"
    )
    real = app.request(method, path, json=body)
    assert real.status_code == 404 and real.json() == answer


def test_the_400_for_a_malformed_workflow_id_the_readme_prints_is_the_apps(app):
    method, path, body, answer = printed("localhost:8001/workflows/not-an-id")
    real = app.request(method, path, json=body)
    assert real.status_code == 400 and real.json() == answer


def test_the_largest_task_delay_scale_ends_add_5_s_before_its_soft_limit():
    from step04_fastapi_canvas import celeryconfig
    from step04_fastapi_canvas.settings import Settings

    bounds = Settings.model_fields["task_delay_scale"].metadata
    largest = next(bound.le for bound in bounds if hasattr(bound, "le"))
    assert ADD_SECONDS * largest + 5 <= celeryconfig.task_soft_time_limit
    with pytest.raises(ValidationError, match=f"less than or equal to {largest:g}"):
        Settings(task_delay_scale=largest + 0.01)
    lesson = " ".join(README.read_text().split())
    assert f"less than or equal to {largest:g}" in lesson and f"at most {largest:g}" in lesson
