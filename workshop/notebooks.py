"""What the notebooks in notebooks/ share: which servers and programs they need (and how to get
the missing ones), a folder and names of their own, a step started on free ports.

Not lesson material: the notebooks are. Each notebook's first cell calls `need(...)`; a missing
server stops it there, with the fix, instead of a traceback three cells later:

    from workshop import notebooks
    notebooks.need("rabbitmq", "redis")
    with notebooks.step("step02") as stack: ...
"""

from __future__ import annotations

import atexit
import tempfile
import uuid
from pathlib import Path

from workshop.launcher.isolated import IsolatedStep
from workshop.probe import find_binary, port_in_use
from workshop.settings import (
    DEFAULT_REDIS_URL,
    FIXES,
    PROGRAM_FIXES,
    ROOT,
    Settings,
    reachable,
    safe_url,
)
from workshop.steps import needed_programs

NOTEBOOKS = ROOT / "notebooks"


class Missing(RuntimeError):
    """A server or a program the notebook needs is not there; the message says how to get it."""


def servers() -> dict[str, tuple[str, str, str]]:
    """Each server by short name: its label, its URL (from the settings) and the fix."""
    settings = Settings()
    return {
        "rabbitmq": ("RabbitMQ", settings.celery_broker_url, FIXES["amqp"]),
        "redis": ("Redis", settings.celery_result_backend or DEFAULT_REDIS_URL, FIXES["redis"]),
        "postgresql": ("PostgreSQL", settings.database_url, FIXES["postgresql"]),
    }


def available(name: str, programs: dict[str, str] | None = None) -> tuple[bool, str]:
    """Whether a server, RabbitMQ's management API or a program is there; what to do if not."""
    if name == "rabbitmq-management":  # the HTTP API on 15672
        fix = "`sudo rabbitmq-plugins enable rabbitmq_management`"
        return port_in_use(15672), f"RabbitMQ's management plugin is off (port 15672): {fix}"
    programs = {**needed_programs(), **PROGRAM_FIXES, **(programs or {})}
    if name in programs:
        present = find_binary(name) is not None
        return present, f"the program {name} is not installed: {programs[name]}"
    label, url, fix = servers()[name]
    return reachable(url), f"{label} does not answer at {safe_url(url)}: {fix}"


def need(*names: str) -> None:
    """Print a line for each server or program; raise Missing if one is not there."""
    missing = []
    for name in names:
        present, why = available(name)
        if present:
            print(f"✓ {name}")
        else:
            print(f"✗ {why}")
            missing.append(why)
    if missing:
        raise Missing("This notebook needs: " + "; ".join(missing) + ". Then run it again.")


def unique(prefix: str) -> str:
    """A name no one else uses on the shared servers: nb-<prefix>-1a2b3c4d."""
    return f"nb-{prefix}-{uuid.uuid4().hex[:8]}"


def run_dir(prefix: str) -> Path:
    """A fresh folder under .run/notebooks/ for logs and rendered configs."""
    parent = Settings().workshop_run_dir / "notebooks"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=parent))


def step(name: str, **env: str) -> IsolatedStep:
    """A step as `make stepNN` starts it, on free ports, with its own queue and worker names.
    Use it in a `with` block: it is up inside, stopped (Ctrl-C) after. If the kernel is shut
    down first, the step is told to stop and its queues go at once (Jupyter gives a kernel
    seconds, stopping a step takes longer)."""
    isolated = IsolatedStep(name, run_dir(name), prefix="nb", **env)
    atexit.register(isolated.stop_soon)
    return isolated


def execute(path: Path, cell_timeout: float = 60):
    """Run a notebook top to bottom in a fresh kernel, in its own folder, as "Run all" does;
    the notebook with its outputs. nbclient's CellExecutionError names the cell that failed."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def to_html(notebook) -> str:
    """One page, images embedded, nothing loaded from the internet (workshop/templates/offline)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(Path(__file__).parent / "templates")],
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body
