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
# each on one pytest process (--dist loadgroup), so the step starts once, not once per file.
SHARED_STACKS = ("step02", "step03", "step04")


def pytest_collection_modifyitems(config, items):
    for item in items:
        package = item.path.parent.name
        if package in SHARED_STACKS and item.path.parent.parent.name == "tests":
            item.add_marker(pytest.mark.xdist_group(package))
