"""Shared fixtures: which services exist, and real step-1 processes on free ports.

Tests marked ``@pytest.mark.needs("rabbitmq", "redis")`` talk to real servers. When one is not
running they are skipped with the command that starts it, except with CI=true or
WORKSHOP_MODE=services, where a missing server FAILS the test.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from workshop.procs import Process, env_with_venv, free_port, wait_until
from workshop.settings import (
    DEFAULT_REDIS_URL,
    FIXES,
    ROOT,
    Settings,
    endpoint,
    reachable,
    safe_url,
)

SETTINGS = Settings()
SERVICES = {
    "rabbitmq": ("RabbitMQ", SETTINGS.celery_broker_url, FIXES["amqp"]),
    "redis": ("Redis", SETTINGS.celery_result_backend or DEFAULT_REDIS_URL, FIXES["redis"]),
    "postgresql": ("PostgreSQL", SETTINGS.database_url, FIXES["postgresql"]),
}
STRICT = os.environ.get("CI", "").lower() == "true" or SETTINGS.workshop_mode == "services"


def pytest_report_header(config):
    lines = [f"services ({'missing ones FAIL' if STRICT else 'missing ones are skipped'}):"]
    for name, url, _ in SERVICES.values():
        host, port = endpoint(url)
        lines.append(f"  {name} {host}:{port}: {'up' if reachable(url) else 'NOT RUNNING'}")
    return lines


def available(service: str) -> tuple[bool, str]:
    """Whether a service (or the nginx binary) is there, and the message when it is not."""
    if service == "nginx":
        from workshop.stack02 import nginx_binary

        fix = "`sudo apt-get install nginx` or `brew install nginx`"
        return nginx_binary() is not None, f"needs the nginx binary, which is not installed: {fix}"
    name, url, fix = SERVICES[service]
    return reachable(url), f"needs {name} at {safe_url(url)}, which is not running: {fix}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    needed = dict.fromkeys(s for marker in item.iter_markers("needs") for s in marker.args)
    missing = [message for present, message in map(available, needed) if not present]
    if missing:
        message = "; ".join(missing)
        if STRICT:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@dataclass
class Stack:
    """Real step-1 processes: the Flask web app and a Celery worker, with their environment."""

    base_url: str
    env: dict[str, str]
    run_dir: Path
    queue: str
    worker_name: str
    processes: dict[str, Process] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=5)

    def wait_for_task(self, task_id: str, timeout: float = 15) -> dict:
        """Poll GET /api/tasks/<id> until the task is finished; return the last answer."""
        with self.client() as client:

            def finished():
                body = client.get(f"/api/tasks/{task_id}").json()
                return body if body["state"] in ("SUCCESS", "FAILURE") else None

            return wait_until(finished, timeout, interval=0.1, what=f"task {task_id} finished")


class StackFactory:
    """Starts step-1 processes for a test and stops them (and their queue) afterwards."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.stacks: list[Stack] = []
        self.queues: list[str] = []  # every queue handed out, deleted at the end

    def env(self, mode: str, **extra: str) -> tuple[dict[str, str], Path, str]:
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
        return env_with_venv(values), run_dir, queue

    def start(self, mode: str, worker: bool = True, **extra: str) -> Stack:
        env, run_dir, queue = self.env(mode, **extra)
        port = free_port()
        # The worker's name (WORKER_NAME, as make step01 uses it) is unique to this test.
        env["WORKER_NAME"] = queue
        stack = Stack(
            f"http://127.0.0.1:{port}", env, run_dir, queue, f"{queue}@{socket.gethostname()}"
        )
        self.stacks.append(stack)
        logs = self.tmp_path / f"logs-{len(self.stacks)}"
        logs.mkdir()
        web = [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "step01_flask_celery.app",
            "run",
            "--port",
            str(port),
        ]
        stack.processes["web"] = Process("web", web, logs, env, ROOT)
        if worker:
            self.start_worker(stack, logs)
        stack.processes["web"].wait_for_log("Running on", timeout=30)
        return stack

    def start_worker(self, stack: Stack, logs: Path | None = None) -> Process:
        logs = logs or stack.processes["web"].log_path.parent
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "step01_flask_celery.worker",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            f"--hostname={stack.worker_name}",
        ]
        worker = Process("worker", args, logs, stack.env, ROOT)
        stack.processes["worker"] = worker
        worker.wait_for_log(f"{stack.worker_name} ready.", timeout=60)
        return worker

    def close(self) -> None:
        for stack in self.stacks:
            for process in stack.processes.values():
                process.stop()
        delete_queues(self.queues)


def delete_queues(queues: list[str]) -> None:
    """Remove the tests' queues from RabbitMQ, so runs do not leave queues behind."""
    if not queues or not reachable(SETTINGS.celery_broker_url):
        return
    from kombu import Connection

    with Connection(SETTINGS.celery_broker_url, connect_timeout=2) as connection:
        for queue in queues:
            connection.default_channel.queue_delete(queue)


@pytest.fixture
def stacks(tmp_path):
    factory = StackFactory(tmp_path)
    yield factory
    factory.close()
