"""Suite-wide rules: which services the tests need, and what happens when one is missing.

Tests marked ``@pytest.mark.needs("rabbitmq", "redis")`` talk to real servers (or run a program
such as nginx). When one is not there they are skipped with the command that starts it, except
with CI=true or WORKSHOP_MODE=services, where a missing one FAILS the test.
"""

from __future__ import annotations

import pytest

from tests.support.services import SERVICES, STRICT, require
from workshop.settings import endpoint, reachable


def pytest_report_header(config):
    lines = [f"services ({'missing ones FAIL' if STRICT else 'missing ones are skipped'}):"]
    for name, url, _ in SERVICES.values():
        host, port = endpoint(url)
        lines.append(f"  {name} {host}:{port}: {'up' if reachable(url) else 'NOT RUNNING'}")
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    require(*(s for marker in item.iter_markers("needs") for s in marker.args))


# The packages whose tests share one running step (a package-scoped `stack`): `make test` runs
# each on one pytest process, so the step starts once, not once per process.
SHARED_STACKS = ("step02", "step03", "step04")
# The tests outside them that take tens of seconds each (`pytest --durations=60`, 2026-12-03):
# collected first, so they run right after the shared stacks and the run ends on short tests on
# every process, not on one long test while the others wait. Longest first; within a
# group, the order stays as collected.
LONG_FIRST = (
    "tests/workshop/test_bench_run.py",
    "tests/workshop/test_room.py",
    "tests/notebooks/",
    "tests/exercises/",
    "tests/step01/test_processes.py",
    "tests/repo/test_standalone.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return next(
            (n for n, start in enumerate(LONG_FIRST) if item.nodeid.startswith(start)),
            len(LONG_FIRST),
        )

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config, log):
    """With `--dist loadgroup`: one package of SHARED_STACKS is one unit of work, every other
    test its own. (pytest-xdist 3.8 groups by `xdist_group` marks by renaming each test's id,
    which pytest 9.2 ignores: the marks had no effect, and both processes started every step.)
    Bigger units go first (loadscope reorders them by size), so the steps start early."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class StepScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/")
            if len(parts) > 2 and parts[0] == "tests" and parts[1] in SHARED_STACKS:
                return f"tests/{parts[1]}"
            return nodeid

    return StepScheduling(config, log)
