"""The decks, built once for the slides' tests with `make slides`, into a folder of their own
(tests running at the same time never read a half-written deck)."""

from __future__ import annotations

import fcntl

import pytest

from tests.support.commands import run
from tests.support.services import STRICT
from workshop import notebooks

# What building the decks needs (workshop.settings.PROGRAM_FIXES says how to get each).
PROGRAMS = ("node", "npm", "dot")


def require_programs(*names: str) -> None:
    """Skip, or fail when STRICT (CI=true), unless every program is installed."""
    missing = [why for present, why in (notebooks.available(n) for n in names) if not present]
    if missing:
        message = "needs: " + "; ".join(missing)
        if STRICT:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="package")
def built(tmp_path_factory):
    """`make slides` into a fresh folder; the folder, with every deck's HTML, Markdown and SVG."""
    require_programs(*PROGRAMS)
    out = tmp_path_factory.mktemp("slides")
    # npm ci runs here when slides/node_modules is missing or older than the lock file. Two
    # pytest processes (make test) must not run it at once: one waits for the other's lock.
    lock = tmp_path_factory.getbasetemp().parent / "slides-build.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = run(["make", "--no-print-directory", "slides", f"SLIDES_OUT={out}"], None, 300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out
