"""Which services the tests need, whether they answer, and how to clean up after them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workshop import notebooks, scratch
from workshop.probe import find_binary
from workshop.settings import Settings

SETTINGS = Settings()
SERVICES = notebooks.servers()
# With CI=true or WORKSHOP_MODE=services a missing service FAILS a test instead of skipping it.
STRICT = SETTINGS.ci or SETTINGS.workshop_mode == "services"


# Programs only the tests need; the others (Chromium, Graphviz...) are in PROGRAM_FIXES.
TEST_PROGRAMS = {
    "rabbitmqctl": "it comes with RabbitMQ: `sudo apt-get install rabbitmq-server`",
}


def available(service: str) -> tuple[bool, str]:
    """Whether a service (or a program such as nginx) is there, and the message when it is not."""
    present, why = notebooks.available(service, TEST_PROGRAMS)
    return present, f"needs: {why}"


def require(*needed: str) -> None:
    """Skip, or fail when STRICT, unless every service in `needed` is there."""
    missing = [text for present, text in map(available, dict.fromkeys(needed)) if not present]
    if missing:
        message = "; ".join(missing)
        if STRICT:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def delete_queues(queues: list[str]) -> None:
    """Remove the tests' queues from RabbitMQ, so runs do not leave queues behind."""
    scratch.delete_queues(SETTINGS.celery_broker_url, queues)


def nginx_test(main_conf: Path) -> subprocess.CompletedProcess:
    """`nginx -t`: is this configuration (and what it includes) valid?"""
    require("nginx")
    return subprocess.run(
        [find_binary("nginx"), "-t", "-p", str(main_conf.parent), "-c", str(main_conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
