"""A step's launcher in the background, as a learner runs it in another terminal: start it, wait
until it says it is up, then stop it the way Ctrl-C does. `make demo` and the tests use it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from workshop.launcher.processes import signals_held, stop_tree
from workshop.settings import ROOT
from workshop.waiting import wait_until

UP = " is up: try it"  # what the launcher prints once every program is ready


class Background:
    def __init__(self, log: Path, env: dict[str, str] | None = None, args: list[str] = ()):
        """`args` after `python`: by default `-m workshop run STEP` (see `step()`)."""
        self.log, self.env, self.args = log, env, list(args)
        self.popen: subprocess.Popen | None = None

    @classmethod
    def step(cls, name: str, log: Path, env: dict[str, str] | None = None) -> Background:
        return cls(log, env, ["-m", "workshop", "run", name])

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self, timeout: float = 120) -> bool:
        """Start it; True once it is up, False if it exited or took longer than `timeout`."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out, signals_held():
            # Its own session, like a terminal of its own: our Ctrl-C does not reach it.
            self.popen = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(
                lambda: self.popen.poll() is not None or UP in self.text(), timeout, what="start"
            )
        except TimeoutError:
            return False
        return self.popen.poll() is None

    def interrupt(
        self, sig: int = signal.SIGINT, timeout: float = 60
    ) -> tuple[int | None, list[int]]:
        """Ctrl-C (or `kill`: SIGTERM, a closed terminal: SIGHUP): its exit status, and the pids
        it left behind (stopped now, all the same)."""
        if self.popen is None:
            return None, []
        left = stop_tree(self.popen, sig, timeout)
        return self.popen.returncode, left
