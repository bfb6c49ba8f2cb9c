"""The OpenAPI schema is complete: schemathesis generates requests from it (valid and not)
and checks every answer against it: no 5xx, no undocumented status code, no answer that breaks
its declared shape, no request against the schema accepted, and no 5xx but the seed's 500
for a failed task. Its own stack, with the tasks
instant, so that the workflows it submits queue behind nothing."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.step04.conftest import Stack04
from tests.support.launched import launched
from tests.support.services import require
from workshop.environment import VENV_BIN
from workshop.settings import ROOT

pytestmark = pytest.mark.needs("rabbitmq", "redis")


def test_schemathesis_finds_nothing_wrong(tmp_path_factory):
    require("rabbitmq", "redis")
    step = Stack04("step04", tmp_path_factory.mktemp("schema"), TASK_DELAY_SCALE="0")
    with launched(step):
        done = subprocess.run(
            [
                str(VENV_BIN / "schemathesis"),
                "run",
                f"{step.url()}/openapi.json",
                "--max-examples",
                "25",
                "--seed",
                "1",
                "--exclude-path-regex",
                "events$",  # a stream: tested in test_events.py
                # The seed's 500 for a failed task is an answer, not a crash: the hooks' check
                # allows exactly that one, with the task's state and error.
                "--exclude-checks",
                "not_a_server_error",
                "--report-dir",
                str(step.run_dir / "schemathesis"),
            ],
            env={**step.env, "SCHEMATHESIS_HOOKS": "tests.step04.schemathesis_hooks"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"(\d+) generated, \1 passed", done.stdout), done.stdout[-2000:]
