"""The workshop's commands besides `run`, `env` and `check`: doctor, ps, trace, stress, demo,
bench, faults, slides.

Each takes its step from the registry (workshop/steps/): the one named, else the running step
that has what the command needs, else the last step that has it.
"""

from __future__ import annotations

from collections.abc import Callable

import psutil

from workshop import steps
from workshop.registry import Step
from workshop.settings import Settings


def launcher_pid(step: Step) -> int | None:
    """The pid of the step's honcho or supervisord while `make stepNN` runs, else None."""
    pid_file = step.run_dir(Settings()) / "run.pid"
    try:
        process = psutil.Process(int(pid_file.read_text()))
        if any(step.runner in part for part in process.cmdline()):
            return process.pid
    except (FileNotFoundError, ValueError, psutil.Error):
        pass
    return None


def pick(name: str | None, has: Callable[[Step], object]) -> Step:
    if name:
        return steps.STEPS[name]
    able = [step for step in steps.STEPS.values() if has(step)]
    running = [step for step in able if launcher_pid(step)]
    return (running or able)[-1]
