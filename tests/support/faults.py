"""`make faults` for steps 3 and 4, shortened for the tests: one stack per step, its result store
on a private server, and each scenario run on it in turn (workshop/faults/workflows.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

from tests.support.services import SETTINGS, STRICT, require
from workshop import steps
from workshop.faults import servers, workflows
from workshop.faults.core import Scenario, Tally, Timing, Workload, run_scenario

# Outages of 3 s; what was accepted must end within 40 s of the scenario.
TIMING = Timing(outage=3.0, tail=1.0, drain=40.0, quick=5.0, first=1)


def require_private_servers() -> None:
    """redis-server, initdb and pg_ctl installed: skipped without them, FAILED in CI."""
    lacking = servers.missing()
    if lacking:
        message = "; ".join(lacking)
        if STRICT:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@contextmanager
def chord_stack(
    name: str, run_dir: Path, workload: Workload | None = None, **env: str
) -> Iterator[workflows.ChordStack]:
    """The step on its private result store, started; then stopped, nothing left behind."""
    require("rabbitmq")
    require_private_servers()
    step = steps.STEPS[name]
    broker = SETTINGS.celery_broker_url
    with workflows.chord_stack(step, run_dir, broker, TIMING, workload, **env) as stack:
        try:
            stack.start()
            yield stack
        finally:
            left = stack.stop_all(Console(file=io.StringIO()))
            assert not left, f"processes left after Ctrl-C: {left}"


def scenarios(name: str) -> list[Scenario]:
    return workflows.scenarios(steps.STEPS[name], TIMING)


def run(stack: workflows.ChordStack, scenario: Scenario) -> tuple[Tally, str]:
    """One scenario under load; its tally, and what it printed."""
    out = io.StringIO()
    tally = run_scenario(stack, scenario, stack.workload, Console(file=out, width=200))
    return tally, out.getvalue()


def assert_nothing_lost(stack: workflows.ChordStack, tally: Tally, printed: str) -> None:
    """Work was accepted, every workflow ended well, the stack came back, and no request failed
    in a way the scenario does not excuse."""
    worker_log = (stack.logs / "worker.log").read_text(errors="replace")[-4000:]
    why = f"{printed}\n{tally.requests}\n--- worker.log ---\n{worker_log}"
    assert tally.accepted, why
    assert not tally.lost and not tally.stranded and not tally.errors, why
    assert len(tally.finished) == len(tally.accepted), why
    assert not tally.problems and not tally.failures and tally.recovery() is not None, why
