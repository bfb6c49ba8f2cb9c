"""check-step04 against the running step, and the worker under the seed's supervisor.conf:
started, killed with SIGKILL, started again."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import uuid

import psutil
import pytest

from tests.support.services import delete_queues, require
from workshop.environment import VENV_BIN, env_with_venv
from workshop.launcher.processes import alive, stop_tree
from workshop.probe import ping_workers
from workshop.settings import ROOT, Settings
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "redis")


def test_check_step04_passes_and_fails_with_a_hint_when_the_worker_is_stopped(stack):
    done = stack.workshop("check", "step04", "--timeout", "30")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r'✓ chord \w{8}… → \{"results": \[7, 12\], "total": 19\}', done.stdout)
    failed = stack.check_without("worker")
    assert failed.returncode == 1
    assert "✗ no answer to ping from" in failed.stdout
    assert re.search(r"✗ chain \w{8}… still (PENDING|STARTED) after [\d.]+ s", failed.stdout)
    assert "is a worker running? (make step04 starts it" in failed.stdout


def test_the_seeds_supervisor_conf_restarts_a_killed_worker(tmp_path):
    require("rabbitmq", "redis")
    # The seed's file, with a run folder, a worker name and queues of this test's own.
    unique = uuid.uuid4().hex[:8]
    queue = f"test-{unique}"
    text = (ROOT / "step04_fastapi_canvas" / "supervisor.conf").read_text()
    text = text.replace("%(here)s/../.run/supervisor", str(tmp_path))
    text = text.replace("%(here)s/..", str(ROOT))
    text = text.replace("--hostname=canvas@", f"--hostname=t{unique}@")
    text = text.replace("-Q default,default-sum", f"-Q {queue},{queue}-sum")
    assert "startsecs=10" in text and "autorestart=true" in text
    conf = tmp_path / "supervisor.conf"
    conf.write_text(text)
    env = env_with_venv({"CELERY_TASK_DEFAULT_QUEUE": queue})
    supervisord = subprocess.Popen(
        [str(VENV_BIN / "supervisord"), "-c", str(conf)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    broker = Settings().celery_broker_url
    name = f"t{unique}@{socket.gethostname()}"

    def worker_pid() -> int | None:
        # alive(): a killed worker stays a zombie until supervisord reaps it, and is no worker.
        found = []
        for child in alive(psutil.Process(supervisord.pid).children()):
            with contextlib.suppress(psutil.Error):  # gone since
                if "celery" in " ".join(child.cmdline()):
                    found.append(child.pid)
        return found[0] if found else None

    try:
        wait_until(lambda: name in ping_workers(broker, {}, 1, only=[name]), 60, what="worker up")
        first = worker_pid()
        psutil.Process(first).send_signal(signal.SIGKILL)
        wait_until(lambda: worker_pid() not in (None, first), 30, what="a new worker")
        wait_until(lambda: name in ping_workers(broker, {}, 1, only=[name]), 60, what="it answers")
        log = (tmp_path / "supervisord.log").read_text()
        assert "exited: celery-worker (terminated by SIGKILL; not expected)" in log
        assert log.count("spawned: 'celery-worker'") == 2
    finally:
        stop_tree(supervisord)
        delete_queues([queue, f"{queue}-sum"])


def test_ps_and_stress_know_step04(stack):
    done = stack.workshop("ps", "step04")
    assert "Uvicorn: HTTP → ASGI call into FastAPI" in done.stdout
    assert f"Celery worker {stack.env['WORKER_PREFIX']}canvas@" in done.stdout
    done = stack.workshop("stress", "--step", "step04", "-n", "6", "-c", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 requests, 3 concurrent, through fastapi" in done.stdout
