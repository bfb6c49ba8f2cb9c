"""The registry: every step of the workshop, each declared as data in workshop/steps/stepNN.py.

A file named stepNN.py that defines `STEP` is a step: `make stepNN`, `python -m workshop run
stepNN`, `check`, `ps`, `stress`, `demo` and the tests find it here, and nowhere else.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from pydantic import Field, create_model

from workshop import settings as base
from workshop.registry import Step

STEPS: dict[str, Step] = {}
Settings: type[base.Settings] = base.Settings


def register(step: Step) -> None:
    """Add a step; the settings model learns its port variables (PORT, NGINX_PORT, ...), so a
    port is read like any other setting, from the environment or .env, and checked."""
    global Settings
    STEPS[step.name] = step
    Settings = create_model(
        "Settings",
        __base__=base.Settings,
        **{
            port.variable.lower(): (int, Field(port.default, ge=1, le=65535))
            for known in STEPS.values()
            for port in known.ports
        },
    )


for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if re.fullmatch(r"step\d\d", _module.name):
        register(importlib.import_module(f"{__name__}.{_module.name}").STEP)


def settings() -> base.Settings:
    return Settings()


def ports(step: Step, values: base.Settings | None = None) -> dict[str, int]:
    """The step's ports by name, as the environment sets them now."""
    values = values or settings()
    return {port.name: getattr(values, port.variable.lower()) for port in step.ports}


def reserved_ports() -> set[int]:
    """Every port a step or a server of the workshop uses by default: never suggest one."""
    servers = {*base.DEFAULT_PORTS.values(), 15672}  # 15672: RabbitMQ's management UI
    return servers | {port.default for step in STEPS.values() for port in step.ports}
