"""Process trees: the environment they start with, and the one way the workshop stops them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Iterator

import psutil

# Ctrl-C, `kill` and a closed terminal: each must stop what a command started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_held = {"now": False, "pending": False, "stopping": False}


def _stop_signal(signum, frame):
    if _held["stopping"]:
        return  # a second Ctrl-C while everything stops must not cut the stop short
    if _held["now"]:
        _held["pending"] = True
        return
    _held["stopping"] = True
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt in this process, like Ctrl-C,
    once: the signals after the first are ignored while the process stops what it started."""
    _held.update(now=False, pending=False, stopping=False)
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop_signal)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """A stop signal that arrives inside the block takes effect when the block ends: between
    starting a process and knowing its pid, there must be no moment to leave it behind."""
    _held["now"] = True
    try:
        yield
    finally:
        _held["now"] = False
        if _held["pending"]:
            _held.update(pending=False, stopping=True)
            raise KeyboardInterrupt


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """No stop signal cuts the block short (a second Ctrl-C while everything stops)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread handles signals
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
    earlier), gets SIGTERM, then SIGKILL: nothing is left behind. Another Ctrl-C, `kill` or
    closed terminal while this runs does not cut it short; every wait is bounded.
    """
    with signals_ignored():
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
                with contextlib.suppress(subprocess.TimeoutExpired):
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
