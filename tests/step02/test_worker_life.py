"""A Celery worker's life in step 2 (README, section 10): how it stops, and how its pool
processes are replaced. Real workers: the stack of conftest.py under supervisord, or workers
started by hand on a queue of the test's own."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import uuid
from contextlib import suppress

import httpx
import pytest
from celery import Celery

from tests.support.processes import Process
from tests.support.services import delete_queues
from workshop.environment import env_with_venv, environment
from workshop.probe import celery_client
from workshop.settings import ROOT, Settings
from workshop.steps import STEPS
from workshop.waiting import wait_until

TASK = "step01_flask_celery.app.tasks.process_data"
RUNNING = ("STARTED", "PROGRESS")


def test_supervisord_stopping_a_worker_lets_its_running_task_finish(stack):
    """supervisorctl stop sends SIGTERM: a warm shutdown, in which the running task ends."""
    worker1, worker2 = stack.workers()
    control = Celery("tests", broker=Settings().celery_broker_url, set_as_current=False)
    # Only worker1 takes the task, and nobody else could finish it after a stop.
    assert control.control.cancel_consumer(stack.queue, destination=[worker2], reply=True)
    try:
        with httpx.Client(base_url=stack.nginx, timeout=10) as client:
            task_id = stack.submit(client, 3)
            status = f"/api/tasks/{task_id}"
            wait_until(lambda: client.get(status).json()["state"] in RUNNING, 20, what="running")
            assert "worker1: stopped" in stack.supervisorctl("stop", "worker1")
            answer = client.get(status).json()
        assert answer["state"] == "SUCCESS", (
            f"worker1 was stopped while it ran the task, and the task is {answer['state']}: "
            "the stop cut it instead of letting it finish (is SIGTERM sent to the pool "
            "processes too? stopasgroup)"
        )
        assert answer["result"]["worker"] == worker1
    finally:
        stack.supervisorctl("start", "worker1")
        control.control.add_consumer(stack.queue, destination=[worker2], reply=True)
        control.close()
        stack.wait_for_both_workers(30)


class ByHand:
    """Step 2's workers started by hand, on a queue of the test's own, with the task history in
    a SQLite file; each task sent by name."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp_path, self.queue = tmp_path, f"test-{uuid.uuid4().hex[:12]}"
        database = f"sqlite:///{tmp_path / 'history.sqlite3'}"
        self.env = env_with_venv(
            {
                "CELERY_TASK_DEFAULT_QUEUE": self.queue,
                "DATABASE_URL": database,
                "OTEL_SDK_DISABLED": "true",
                "WORKSHOP_RUN_DIR": str(tmp_path),
            }
        )
        monkeypatch.setenv("DATABASE_URL", database)
        from step02_nginx_gunicorn import history

        monkeypatch.setattr(history, "_engine", None)  # made anew, for this database
        history.create_table()
        self.history = history
        self.client = celery_client(environment(STEPS["step02"], self.env).variables)
        self.workers: list[Process] = []

    def start(self, name: str, *options: str, **env: str) -> tuple[Process, str]:
        """A worker with one pool process; its full name."""
        name = f"{name}-{uuid.uuid4().hex[:6]}"
        command = [sys.executable, "-m", "celery", "-A", "step02_nginx_gunicorn.worker", "worker"]
        command += ["--loglevel=INFO", f"--hostname={name}@%h", "--concurrency=1", *options]
        command += ["--without-gossip", "--without-mingle"]
        worker = Process(name, command, self.tmp_path, {**self.env, **env}, ROOT)
        self.workers.append(worker)
        return worker, f"{name}@{socket.gethostname()}"

    def history_row(self, task_id: str) -> dict:
        with self.history.engine().connect() as connection:
            rows = connection.execute(self.history.history.select()).mappings().all()
        return next(dict(row) for row in rows if row["task_id"] == task_id)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.client.close()
        delete_queues([self.queue, f"{self.queue}-idle"])


@pytest.fixture
def by_hand(tmp_path, monkeypatch):
    workers = ByHand(tmp_path, monkeypatch)
    yield workers
    workers.close()


@pytest.mark.needs("rabbitmq", "redis")
@pytest.mark.timeout(60)
def test_a_task_longer_than_the_soft_shutdown_timeout_runs_again_on_the_next_worker(by_hand):
    first, _ = by_hand.start("soft", FLASK_CELERY__worker_soft_shutdown_timeout="1")
    # The next worker waits on a queue of its own until the first one is gone.
    second, second_name = by_hand.start("next", f"--queues={by_hand.queue}-idle")
    first.wait_for_log("ready.", timeout=60)
    second.wait_for_log("ready.", timeout=60)
    task = by_hand.client.send_task(TASK, args=({}, 4, False))
    wait_until(lambda: task.state in RUNNING, 20, what="the task running")

    # SIGQUIT: a cold shutdown, which the soft shutdown delays by its timeout (1 s here).
    os.kill(first.pid, signal.SIGQUIT)
    wait_until(lambda: not first.alive(), 30, what="the first worker gone")
    log = first.log()
    assert "Initiating Soft Shutdown, terminating in 1 seconds" in log, f"no soft shutdown:\n{log}"
    assert task.state != "SUCCESS", "the soft shutdown waited for the 4 s task to finish"

    by_hand.client.control.add_consumer(by_hand.queue, destination=[second_name], reply=True)
    with suppress(TimeoutError):  # the assertion below says what went wrong
        wait_until(lambda: task.ready(), 15, interval=0.2, what="the task's end")
    assert task.state == "SUCCESS" and task.result["worker"] == second_name, (
        f"the task cut by the soft shutdown is {task.state} ({task.result!r}): with late acks "
        "its message goes back to the queue, and the next worker runs it again"
    )
    # The history row is written after the result: wait for it, a little.
    with suppress(TimeoutError):
        wait_until(lambda: by_hand.history_row(task.id)["runs"] == 2, 10, what="the second run")
    row = by_hand.history_row(task.id)
    assert (row["runs"], row["worker"]) == (2, second_name), row  # the cut run, then this one


@pytest.mark.needs("rabbitmq", "redis")
@pytest.mark.timeout(60)
def test_after_max_tasks_per_child_the_next_task_runs_in_a_new_pool_process(by_hand):
    # FLASK_CELERY__: the same setting as worker.py's, smaller (step 1's settings win).
    worker, _ = by_hand.start("recycle", FLASK_CELERY__worker_max_tasks_per_child="3")
    worker.wait_for_log("ready.", timeout=60)
    tasks = [by_hand.client.send_task(TASK, args=({}, 0, False)) for _ in range(4)]
    wait_until(lambda: all(task.ready() for task in tasks), 30, interval=0.2, what="4 tasks")
    assert [task.state for task in tasks] == ["SUCCESS"] * 4

    def ran_in(task) -> str:
        """The pool process that logged the task's success (ForkPoolWorker-<n>)."""
        found = re.search(rf"/(ForkPoolWorker-\d+)\] Task \S+\[{task.id}\] succeeded", worker.log())
        return found.group(1) if found else "?"

    processes = [ran_in(task) for task in tasks]
    assert len(set(processes[:3])) == 1 and processes[3] not in processes[:3], (
        f"with a maximum of 3 tasks per pool process, the 4 tasks ran in {processes}: the "
        "first 3 in one process, the 4th in a new one"
    )
