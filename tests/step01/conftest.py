"""Step 1's processes started by hand on free ports, each test with its own queue and worker."""

from __future__ import annotations

import socket
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import tasks
from tests.support.processes import Process
from tests.support.services import delete_queues
from workshop.environment import env_with_venv, environment
from workshop.probe import free_port
from workshop.settings import ROOT
from workshop.steps import STEPS


@dataclass
class ByHand:
    """Real step-1 processes: the Flask web app and a Celery worker, with their environment."""

    base_url: str
    env: dict[str, str]
    run_dir: Path
    queue: str
    worker_name: str
    processes: dict[str, Process] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=5)

    def submit(self, body: dict) -> str:
        with self.client() as client:
            return tasks.submit(client, body)

    def wait_for_task(self, task_id: str, timeout: float = 15) -> dict:
        with self.client() as client:
            return tasks.wait_for_task(client, task_id, timeout)


class ByHandFactory:
    """Starts step-1 processes for a test and stops them (and their queue) afterwards."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.stacks: list[ByHand] = []
        self.queues: list[str] = []  # every queue handed out, deleted at the end

    def env(self, mode: str, **extra: str) -> tuple[dict[str, str], Path, str]:
        """What `make step01` would give its processes in this mode (the services it chooses,
        as the standard variables), with a run folder and a queue of the test's own."""
        run_dir = self.tmp_path / f"run-{len(self.stacks)}"
        queue = f"test-{uuid.uuid4().hex[:12]}"
        self.queues.append(queue)
        values = {
            "WORKSHOP_MODE": mode,
            "WORKSHOP_RUN_DIR": str(run_dir),
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "TASK_SECONDS": "0.5",
            **extra,
        }
        given = env_with_venv(values)
        return {**given, **environment(STEPS["step01"], given).variables}, run_dir, queue

    def start(self, mode: str, worker: bool = True, **extra: str) -> ByHand:
        env, run_dir, queue = self.env(mode, **extra)
        port = free_port()
        # The worker's name (WORKER_NAME, as make step01 uses it) is unique to this test.
        env["WORKER_NAME"] = queue
        stack = ByHand(
            f"http://127.0.0.1:{port}", env, run_dir, queue, f"{queue}@{socket.gethostname()}"
        )
        self.stacks.append(stack)
        logs = self.tmp_path / f"logs-{len(self.stacks)}"
        logs.mkdir()
        web = [sys.executable, "-m", "flask", "--app", "step01_flask_celery.app", "run"]
        stack.processes["web"] = Process("web", [*web, "--port", str(port)], logs, env, ROOT)
        if worker:
            self.start_worker(stack, logs)
        stack.processes["web"].wait_for_log("Running on", timeout=30)
        return stack

    def start_worker(self, stack: ByHand, logs: Path) -> Process:
        args = [
            *(sys.executable, "-m", "celery", "-A", "step01_flask_celery.worker", "worker"),
            *("--loglevel=INFO", "--concurrency=2", f"--hostname={stack.worker_name}"),
        ]
        worker = Process("worker", args, logs, stack.env, ROOT)
        stack.processes["worker"] = worker
        worker.wait_for_log(f"{stack.worker_name} ready.", timeout=60)
        return worker

    def close(self) -> None:
        for stack in self.stacks:
            for process in stack.processes.values():
                process.kill()
        delete_queues(self.queues)


@pytest.fixture
def stacks(tmp_path):
    factory = ByHandFactory(tmp_path)
    yield factory
    factory.close()
