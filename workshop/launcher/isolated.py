"""A step of one's own next to a learner's: `python -m workshop run stepNN` in the background, on
free ports, with its own queue, worker names and run folder, then stopped the way Ctrl-C does.

The notebooks, `make faults` and the tests start steps this way, so they never take a port, a
queue or a worker name from a step a learner is running on the same servers:

    with IsolatedStep("step02", Path("/tmp/run")) as stack:
        httpx.post(stack.url("nginx") + "/api/process_data", json={})
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import uuid
from pathlib import Path

from workshop import steps
from workshop.environment import VENV_BIN, StepEnvironment, env_with_venv, environment
from workshop.launcher.background import Background
from workshop.launcher.processes import signals_ignored
from workshop.probe import celery_app, free_port
from workshop.scratch import delete_queues
from workshop.settings import Settings


class StepDidNotStart(RuntimeError):
    """The launcher exited, or did not say it was up in time; the message ends with its log."""


class IsolatedStep:
    def __init__(self, name: str, run_dir: Path, prefix: str = "t", **env: str):
        """`env` is added to the processes' environment (the step's settings: TASK_SECONDS=...).
        `prefix` starts the queue and worker names, to tell whose they are in RabbitMQ."""
        self.step = steps.STEPS[name]
        self.run_dir = Path(run_dir)
        unique = uuid.uuid4().hex[:6]
        self.queue = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.env = env_with_venv(
            {
                "WORKSHOP_MODE": "services",
                "WORKSHOP_RUN_DIR": str(self.run_dir),
                "CELERY_TASK_DEFAULT_QUEUE": self.queue,
                # Worker names of its own: a learner's step may run on the same broker.
                "WORKER_NAME": f"{prefix}{unique}",
                "WORKER_PREFIX": f"{prefix}{unique}-",
                **{port.variable: str(free_port()) for port in self.step.ports},
                **env,
            }
        )
        self.launcher = Background.step(name, self.run_dir / "launcher.log", self.env)
        self.broker = self.settings().celery_broker_url  # where its queues are deleted

    def settings(self) -> Settings:
        """The workshop's settings as this step's launcher reads them (its environment first)."""
        return Settings.of(self.env)

    def environment(self) -> StepEnvironment:
        """The variables its launcher gives its processes (`make env` for this step)."""
        return environment(self.step, self.env)

    def port(self, name: str) -> int:
        return int(self.env[self.step.port(name).variable])

    def url(self, name: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port(name or self.step.main_port.name)}"

    def worker_names(self) -> list[str]:
        """Its Celery workers' full names, as ping answers them: t1a2b3c-worker1@host."""
        return self.step.worker_names(self.settings())

    @property
    def logs(self) -> Path:
        return self.run_dir / self.step.name / "logs"

    def log(self) -> str:
        """What the launcher printed, as a learner sees it in the terminal."""
        return self.launcher.text()

    def start(self, timeout: float = 120) -> IsolatedStep:
        if not self.launcher.start(timeout=timeout):
            self.stop()
            raise StepDidNotStart(f"{self.step.name} did not start:\n{self.log()[-5000:]}")
        return self

    def stop(self) -> list[int]:
        """Ctrl-C, then the step's queues deleted; the pids left behind (stopped all the same)."""
        _, left = self.launcher.interrupt()
        # Once the workers are gone (they would declare the queues again).
        delete_queues(self.broker, self.queues)
        return left

    @property
    def queues(self) -> list[str]:
        """What the step's workers declare: its queue, step 4's second one, and step 3's
        dead-letter queue."""
        return [self.queue, f"{self.queue}-sum", f"{self.queue}.dead"]

    def stop_soon(self) -> None:
        """For a process about to exit (a notebook's kernel shut down midway, with seconds
        left): Ctrl-C without waiting, and the queues deleted now. The workers stop consuming
        first, or they would declare the queues again. The step's processes stop by themselves.
        Does nothing once the step has stopped."""
        popen = self.launcher.popen
        if popen is None or popen.poll() is not None:
            return
        with signals_ignored():
            popen.send_signal(signal.SIGINT)
            queues = self.queues
            with contextlib.suppress(Exception):  # a broker that is gone: nothing to delete
                app = celery_app(self.broker)
                for queue in queues:
                    app.control.cancel_consumer(
                        queue, destination=self.worker_names(), reply=True, timeout=1
                    )
                app.close()
                delete_queues(self.broker, queues)

    def supervisorctl(self, *args: str) -> str:
        """supervisorctl against the step's own supervisord (steps 2 to 4)."""
        conf = self.run_dir / self.step.name / "supervisord.conf"
        done = subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    def __enter__(self) -> IsolatedStep:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
