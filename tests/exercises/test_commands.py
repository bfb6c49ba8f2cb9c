"""The learner's commands, through `make`, in a clone of the repository: start an exercise,
verify it (✗ with what is wrong), a hint, the solution (✓, with the diff of the attempt), the
list, and the reset that leaves `git status` clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from workshop.settings import ROOT

EX = "01.3"  # quick to verify: two tests in one process
FILE = "step01_flask_celery/app/views.py"


def git(clone, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=clone, capture_output=True, text=True, check=True, timeout=60
    ).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clone of the repository as committed, plus this tree's edits, committed there; the
    .venv is this one's."""
    clone = tmp_path_factory.mktemp("clone") / "workshop"
    tracked = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard").split()
    for name in tracked:
        if (ROOT / name).is_file() and not name.startswith(("slides/", "notebooks/")):
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    (clone / ".venv").symlink_to(ROOT / ".venv")
    git(clone, "init", "-q")
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    return clone


def make(clone, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKSHOP_", "CELERY_"))}
    # -o: the clone's .venv is this one's; never reinstall it (pip would point it at the clone).
    return subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", *args],
        cwd=clone,
        env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_start_verify_hint_solution_then_reset(clone):
    (clone / FILE).write_text((clone / FILE).read_text() + "# my notes\n")
    refused = make(clone, "exercise", f"EX={EX}")
    assert refused.returncode != 0, refused.stdout
    assert f"{FILE} has changes that are not committed" in refused.stdout, refused.stdout
    git(clone, "checkout", "-q", FILE)

    started = make(clone, "exercise", f"EX={EX}")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "Record the task before publishing" in started.stdout and FILE in started.stdout
    assert "make verify" in started.stdout
    assert git(clone, "status", "--short").split() == ["M", FILE]

    failed = make(clone, "verify")
    assert failed.returncode != 0, failed.stdout
    assert "✗ a task just sent is queued not unknown" in failed.stdout, failed.stdout
    assert "before publishing" in failed.stdout and "make hint" in failed.stdout

    hint = make(clone, "hint")
    assert hint.returncode == 0 and "store_result" in hint.stdout, hint.stdout

    listed = json.loads(
        subprocess.run(
            [str(ROOT / ".venv/bin/python"), "-m", "workshop", "exercises", "--json"],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    mine = next(row for row in listed if row["id"] == EX)
    assert (mine["status"], mine["current"]) == ("failing", True)
    assert len(listed) >= 12

    solution = make(clone, "solution")
    assert solution.returncode == 0, solution.stdout + solution.stderr
    assert "store_result" in solution.stdout  # the diff between the attempt and the solution
    assert git(clone, "status", "--short") == ""
    passed = make(clone, "verify")
    assert passed.returncode == 0, passed.stdout
    assert f"{EX} passes" in passed.stdout

    make(clone, "exercise", "EX=01.1")
    assert git(clone, "status", "--short").strip()
    reset = make(clone, "exercises-reset")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert git(clone, "status", "--short") == ""
    listed = make(clone, "exercises").stdout
    assert "passing" not in listed and "current" not in listed, listed
