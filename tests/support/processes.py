"""One child process in its own process group, its output in a log file: what the tests start
when they run a step's programs by hand (step 1's web and worker, without the launcher)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from workshop.launcher.processes import stop_tree
from workshop.waiting import wait_until


class Process:
    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict[str, str], cwd: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float) -> None:
        """Wait until `text` appears in the log; fail early, with the log, if the process died."""

        def seen() -> bool:
            if text in self.log():
                return True
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.log()}")
            return False

        try:
            wait_until(seen, timeout, what=f"{self.name} printing {text!r}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n--- {self.name} log ---\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL, and whatever is left of its tree: a test's processes need no clean stop
        (a Celery worker's warm shutdown takes seconds); the launcher's tests check that one."""
        stop_tree(self.popen, signal.SIGKILL, timeout=5)
        self._log.close()
