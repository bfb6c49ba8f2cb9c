"""The registry: every step of the workshop, each declared as data in workshop/steps/stepNN.py.

A file named stepNN.py that defines `STEP` is a step: `make stepNN`, `python -m workshop run
stepNN`, `check`, `ps`, `stress`, `demo` and the tests find it here, and nowhere else.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from celery.utils.imports import symbol_by_name
from pydantic import Field, create_model

from workshop import settings as base
from workshop.registry import Step

STEPS: dict[str, Step] = {}
_MODELS: dict[str | None, type[base.Settings]] = {}


def register(step: Step) -> None:
    STEPS[step.name] = step
    _MODELS.clear()  # every model learns the new step's ports


def model(step: Step | None = None) -> type[base.Settings]:
    """The settings model: the variables every step shares (workshop.settings.Settings), every
    step's port variables (PORT, NGINX_PORT...: read and checked like any other setting, from
    the environment or .env) and, for `step`, the variables of its own settings class."""
    own = step.settings if step else None
    if own not in _MODELS:
        ports = {
            port.variable.lower(): (int, Field(port.default, ge=1, le=65535))
            for known in STEPS.values()
            for port in known.ports
        }
        base_class = symbol_by_name(own) if own else base.Settings
        _MODELS[own] = create_model("Settings", __base__=base_class, **ports)
    return _MODELS[own]


def settings(step: Step | None = None) -> base.Settings:
    """The settings now (the environment, then .env, then the defaults)."""
    return model(step)()


def ports(step: Step, values: base.Settings | None = None) -> dict[str, int]:
    """The step's ports by name, as the environment sets them now."""
    return step.port_numbers(values or settings(step))


def reserved_ports() -> set[int]:
    """Every port a step or a server of the workshop uses by default: never suggest one."""
    servers = {*base.DEFAULT_PORTS.values(), 15672}  # 15672: RabbitMQ's management UI
    return servers | {port.default for step in STEPS.values() for port in step.ports}


def needed_programs() -> dict[str, str]:
    """Every program a step needs installed (nginx...), with how to install it."""
    return {name: how for step in STEPS.values() for name, how in step.needs.items()}


for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if re.fullmatch(r"step\d\d", _module.name):
        register(importlib.import_module(f"{__name__}.{_module.name}").STEP)
