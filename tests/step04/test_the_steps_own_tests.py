"""Step 4's own tests (step04_fastapi_canvas/tests/: its tasks run by Celery's pytest plugin, and
what eager mode lets through), run as the lesson runs them: `pytest step04_fastapi_canvas/tests`.
A fresh interpreter: step 4 reads its settings (its queue among them) once, when imported."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from workshop.environment import env_with_venv
from workshop.settings import ROOT

pytestmark = pytest.mark.needs("rabbitmq", "redis")
FOLDER = ROOT / "step04_fastapi_canvas" / "tests"


def test_the_steps_own_tests_pass():
    written = sum(path.read_text().count("\ndef test_") for path in FOLDER.glob("test_*.py"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings"]
        + [str(FOLDER.relative_to(ROOT))],
        cwd=ROOT,
        env=env_with_venv(),
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(rf"^{written} passed in ", done.stdout, re.M), done.stdout[-2000:]
