"""A step started the way a learner starts it, `python -m workshop run stepNN`, on free ports,
with its own queue and worker names, then stopped with Ctrl-C: nothing may be left behind."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

from celery import Celery

from tests.support.commands import workshop
from tests.support.services import SETTINGS
from workshop.launcher.isolated import IsolatedStep


class LaunchedStep(IsolatedStep):
    def __init__(self, name: str, run_dir: Path, **env: str):
        defaults = {
            "TASK_SECONDS": "0.2",
            "COLUMNS": "200",  # tables as in a wide terminal: one row, one line
        }
        super().__init__(name, run_dir, prefix="test", **{**defaults, **env})
        # Its queues are deleted on the shared broker itself, even when the step reaches it
        # through a relay that a test has cut.
        self.broker = SETTINGS.celery_broker_url

    def start(self) -> None:
        up = self.launcher.start(timeout=120)
        assert up, f"{self.step.name} did not start:\n{self.log()[-5000:]}"

    def interrupt(self) -> int | None:
        """Ctrl-C; asserts that every process the launcher started is gone."""
        left = self.stop()
        assert not left, f"processes left after Ctrl-C: {left}\n{self.log()[-3000:]}"
        return self.launcher.popen.returncode if self.launcher.popen else None

    def workshop(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`python -m workshop ARGS` as a learner would type it, with this step's settings."""
        return workshop(*args, env=self.env, timeout=timeout)

    @contextmanager
    def not_consuming(self):
        """Its workers stop taking messages from its queues (Celery's remote control), so that
        what is published waits where it can be counted; they take them again afterwards."""
        names = self.worker_names()
        queues = [self.queue, f"{self.queue}-sum"] if self.step.name == "step04" else [self.queue]
        app = Celery("tests", broker=self.broker, set_as_current=False)
        control = {"destination": names, "reply": True, "timeout": 5}
        try:
            for queue in queues:
                replies = app.control.cancel_consumer(queue, **control)
                assert len(replies) == len(names), f"{queue}: {replies} (workers: {names})"
            yield
        finally:
            for queue in queues:
                app.control.add_consumer(queue, **control)
            app.close()

    def check_without(self, program: str, timeout: float = 3) -> subprocess.CompletedProcess:
        """`make check-stepNN` while `program` is stopped (supervisorctl), then started again."""
        assert "stopped" in self.supervisorctl("stop", program)
        try:
            return self.workshop("check", self.step.name, "--timeout", str(timeout))
        finally:
            assert "started" in self.supervisorctl("start", program)


@contextmanager
def launched(step: LaunchedStep):
    """The step, up, for the `with` block; then Ctrl-C, and nothing may be left behind."""
    try:
        step.start()
        yield step
    finally:
        step.interrupt()
