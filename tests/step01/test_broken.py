"""The broken layout must keep failing, and for the right reason: the circular import."""

import subprocess
import sys

from tests.support.commands import make
from workshop.settings import ROOT


def run_broken() -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "step01_flask_celery.broken"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_broken_layout_fails_with_the_circular_import_error():
    done = run_broken()
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        "ImportError: cannot import name 'create_app' from partially initialized module "
        "'step01_flask_celery.broken.flask_app' (most likely due to a circular import)"
    )


def test_the_traceback_walks_the_whole_cycle_in_order():
    stderr = run_broken().stderr
    files = ["flask_app.py", "views.py", "tasks.py", "celery_app.py"]
    positions = [stderr.index(f"broken/{name}") for name in files]
    assert positions == sorted(positions), "the cycle is flask_app -> views -> tasks -> celery_app"


def test_make_step01_broken_shows_the_error_and_explains_it():
    done = make("step01-broken")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ImportError" in done.stderr
    assert "flask_app -> views -> tasks -> celery_app -> flask_app" in done.stdout


def test_the_fixed_app_imports_in_any_order(tmp_path):
    # Each entry point of the fixed app, imported first in a fresh interpreter.
    for module in (
        "step01_flask_celery.app.tasks",
        "step01_flask_celery.app.views",
        "step01_flask_celery.worker",
        "step01_flask_celery.app",
    ):
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path)},
        )
        assert done.returncode == 0, f"{module}: {done.stderr}"
