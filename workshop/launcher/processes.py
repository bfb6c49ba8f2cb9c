"""Process trees: the environment they start with, and the one way the workshop stops them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import psutil

VENV_BIN = Path(sys.executable).parent


def env_with_venv(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment, with this virtualenv's bin/ first on PATH (flask, celery, honcho)."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """Those still running (a zombie has exited: it only waits for its parent to read that)."""
    running = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def stop_tree(
    top: subprocess.Popen,
    sig: int = signal.SIGTERM,
    timeout: float = 40,
    first: Iterable[psutil.Process] = (),
    known: Iterable[psutil.Process] = (),
) -> list[int]:
    """Stop `top` and every process under it; return the pids that outlived `top`.

    `first` are asked to stop before `top`, in order, each given 15 s. Then `top` gets `sig`
    (it stops its own children) and `timeout` seconds, then SIGKILL for its process group. What
    is still running after that, of the processes seen under `top` now or in `known` (seen
    earlier), gets SIGTERM, then SIGKILL: nothing is left behind. A second Ctrl-C while this
    runs does not cut it short.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        tree = {*known, *descendants(top.pid)}
        for process in first:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
            psutil.wait_procs([process], timeout=15)
        if top.poll() is None:
            top.send_signal(sig)
            try:
                top.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(top.pid, signal.SIGKILL)
                top.wait(5)
        left = alive(tree)
        for process in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        _, still = psutil.wait_procs(left, timeout=10)
        for process in still:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        return [process.pid for process in left]
    finally:
        signal.signal(signal.SIGINT, previous)
