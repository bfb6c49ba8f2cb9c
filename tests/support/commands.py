"""The commands a learner types, run from the top of the repository, their output captured."""

from __future__ import annotations

import subprocess
import sys

from workshop.settings import ROOT


def workshop(*args: str, env: dict | None = None, timeout: float = 60):
    """`python -m workshop ARGS`."""
    return run([sys.executable, "-m", "workshop", *args], env, timeout)


def make(*args: str, timeout: float = 120):
    """`make ARGS`."""
    return run(["make", "--no-print-directory", *args], None, timeout)


def run(argv: list[str], env: dict | None, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
