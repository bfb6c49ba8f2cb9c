"""The registry: every step of the workshop, each declared as data in workshop/steps/stepNN.py.

A file named stepNN.py that defines `STEP` is a step: `make stepNN`, `python -m workshop run
stepNN`, `check`, `env`, `ps`, `stress`, `demo` and the tests find it here, and nowhere else.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from workshop.registry import Step
from workshop.settings import DEFAULT_PORTS

STEPS: dict[str, Step] = {}

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if re.fullmatch(r"step\d\d", _module.name):
        _step = importlib.import_module(f"{__name__}.{_module.name}").STEP
        STEPS[_step.name] = _step


def reserved_ports() -> set[int]:
    """Every port a step or a server of the workshop uses by default: never suggest one."""
    servers = {*DEFAULT_PORTS.values(), 15672}  # 15672: RabbitMQ's management UI
    return servers | {port.default for step in STEPS.values() for port in step.ports}


def needed_programs() -> dict[str, str]:
    """Every program a step needs installed (nginx...), with how to install it."""
    return {name: how for step in STEPS.values() for name, how in step.needs.items()}
