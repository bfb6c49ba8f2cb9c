"""A step started the way a learner starts it, `python -m workshop run stepNN`, on free ports,
with its own queue and worker names, then stopped with Ctrl-C: nothing may be left behind."""

from __future__ import annotations

import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

from tests.support.commands import workshop
from tests.support.services import delete_queues
from workshop import steps
from workshop.launcher.background import Background
from workshop.launcher.processes import VENV_BIN, env_with_venv
from workshop.probe import free_port


class LaunchedStep:
    def __init__(self, name: str, run_dir: Path, **env: str):
        self.step = steps.STEPS[name]
        self.run_dir = run_dir
        unique = uuid.uuid4().hex[:6]
        self.queue = f"test-{uuid.uuid4().hex[:12]}"
        self.env = env_with_venv(
            {
                "WORKSHOP_MODE": "services",
                "WORKSHOP_RUN_DIR": str(run_dir),
                "CELERY_TASK_DEFAULT_QUEUE": self.queue,
                # Worker names of its own: a learner's step may run on the same broker.
                "WORKER_NAME": f"t{unique}",
                "WORKER_PREFIX": f"t{unique}-",
                "TASK_SECONDS": "0.2",
                "COLUMNS": "200",  # tables as in a wide terminal: one row, one line
                **{port.variable: str(free_port()) for port in self.step.ports},
                **env,
            }
        )
        self.launcher = Background.step(name, run_dir / "launcher.log", self.env)

    def port(self, name: str) -> int:
        return int(self.env[self.step.port(name).variable])

    def url(self, name: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port(name or self.step.main_port.name)}"

    @property
    def logs(self) -> Path:
        return self.run_dir / self.step.name / "logs"

    def log(self) -> str:
        return self.launcher.text()

    def start(self) -> None:
        up = self.launcher.start(timeout=120)
        assert up, f"{self.step.name} did not start:\n{self.log()[-5000:]}"

    def interrupt(self) -> int | None:
        """Ctrl-C; asserts that every process the launcher started is gone."""
        code, left = self.launcher.interrupt()
        delete_queues([self.queue])
        assert not left, f"processes left after Ctrl-C: {left}\n{self.log()[-3000:]}"
        return code

    def workshop(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`python -m workshop ARGS` as a learner would type it, with this step's settings."""
        return workshop(*args, env=self.env, timeout=timeout)

    def supervisorctl(self, *args: str) -> str:
        conf = self.run_dir / self.step.name / "supervisord.conf"
        done = subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout


@contextmanager
def launched(step: LaunchedStep):
    """The step, up, for the `with` block; then Ctrl-C, and nothing may be left behind."""
    try:
        step.start()
        yield step
    finally:
        step.interrupt()
