"""`python -m workshop ps [stepNN]`: the process tree of a running step, with roles.

Nginx and Gunicorn each run a master that accepts nothing itself but manages worker processes;
each Celery worker runs a main process that takes messages and a pool of child processes.
"""

from __future__ import annotations

import re
import socket

import psutil
from rich.console import Console
from rich.tree import Tree

from workshop import steps
from workshop.registry import Step
from workshop.tools import launcher_pid


def role(process: psutil.Process, parent_role: str) -> str:
    try:
        argv = process.cmdline()
    except psutil.Error:
        return "?"
    command = " ".join(argv)
    # The program's name: argv[0], or the script a Python interpreter runs.
    programs = {arg.rsplit("/", 1)[-1] for arg in argv[:2]}
    if parent_role.startswith("Celery worker"):
        return "Celery pool process: runs tasks"
    if command.startswith("nginx: master"):
        return "Nginx master: reads the config, opens the port"
    if command.startswith("nginx: worker"):
        return "Nginx worker: accepts connections, proxies"
    if " flower" in command:
        return "Flower: watches task events (web UI)"
    if "celery" in programs and " beat" in command:
        return "Celery beat: sends the scheduled tasks"
    if "celery" in programs and " worker " in command and "--hostname=" in command:
        name = command.split("--hostname=")[1].split()[0].replace("%h", socket.gethostname())
        return f"Celery worker {name}: takes messages, feeds its pool"
    if "gunicorn" in programs:
        if parent_role.startswith("Gunicorn"):
            app = "Django" if "(Django)" in parent_role else "Flask"
            return f"Gunicorn worker: HTTP → WSGI call into {app}"
        # A Django project's WSGI module is named with no `:app`: Gunicorn loads `application`.
        app = " (Django)" if re.search(r"\.wsgi(\s|$)", command) else ""
        return f"Gunicorn master{app}: forks and watches workers"
    if "uvicorn" in programs:
        return "Uvicorn: HTTP → ASGI call into FastAPI, one event loop"
    if "manage.py" in programs and " runserver" in command:
        if parent_role.startswith("Django"):
            return "Django development server: HTTP → WSGI call, threads"
        return "Django autoreloader: restarts the server when a file changes"
    if "flask" in programs:
        return "Flask development server: HTTP → WSGI call, one process"
    if "supervisord" in command:
        return "supervisord: starts all, restarts any that dies"
    if "honcho" in programs:
        if parent_role.startswith("honcho"):
            return "honcho: runs one line of the Procfile"
        return "honcho: starts the Procfile's lines, stops all when one exits"
    if programs & {"sh", "dash", "bash"} and parent_role.startswith("honcho"):
        return "sh -c: the Procfile line's shell"
    return command[:60]


def add(tree: Tree, process: psutil.Process, parent_role: str) -> None:
    for child in sorted(process.children(), key=lambda p: p.pid):
        child_role = role(child, parent_role)
        branch = tree.add(f"[bold]{child.pid}[/] {child_role}")
        add(branch, child, child_role)


def print_tree(step: Step, console: Console) -> bool:
    pid = launcher_pid(step)
    if pid is None:
        return False
    try:
        root = psutil.Process(pid)
        top = role(root, "")
        tree = Tree(f"[bold]{root.pid}[/] {top}")
        add(tree, root, top)
    except psutil.NoSuchProcess:
        return False
    console.print(tree)
    return True


def ps_command(step_name: str | None, console: Console) -> int:
    chosen = [steps.STEPS[step_name]] if step_name else list(steps.STEPS.values())
    shown = [step for step in chosen if print_tree(step, console)]
    if shown:
        return 0
    if step_name:
        console.print(f"[red]✗ {step_name} is not running[/]: start it with `make {step_name}`.")
    else:
        console.print("[red]✗ no step is running[/]: start one, for example `make step01`.")
    return 1
