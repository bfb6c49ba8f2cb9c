"""`python -m workshop ps step02`: the process tree of the running step-2 stack, with roles.

Nginx and Gunicorn each run a master that accepts nothing itself but manages worker processes;
each Celery worker runs a main process that takes messages and a pool of child processes.
"""

from __future__ import annotations

import socket

import psutil
from rich.console import Console
from rich.tree import Tree

from workshop.stack02 import Paths


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
    if "celery" in programs and " worker " in command and "--hostname=" in command:
        name = command.split("--hostname=")[1].split()[0].replace("%h", socket.gethostname())
        return f"Celery worker {name}: takes messages, feeds its pool"
    if "gunicorn" in programs:
        if parent_role.startswith("Gunicorn"):
            return "Gunicorn worker: HTTP → WSGI call into Flask"
        return "Gunicorn master: forks and watches workers"
    if "supervisord" in command:
        return "supervisord: starts all, restarts any that dies"
    return command[:60]


def add(tree: Tree, process: psutil.Process, parent_role: str) -> None:
    for child in sorted(process.children(), key=lambda p: p.pid):
        child_role = role(child, parent_role)
        branch = tree.add(f"[bold]{child.pid}[/] {child_role}")
        add(branch, child, child_role)


def ps_command(console: Console) -> int:
    pid_file = Paths.current().supervisord_pid
    try:
        root = psutil.Process(int(pid_file.read_text().strip()))
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        console.print("[red]✗ step 2 is not running[/]: start it with `make step02`.")
        return 1
    top = role(root, "")
    tree = Tree(f"[bold]{root.pid}[/] {top}")
    add(tree, root, top)
    console.print(tree)
    return 0
