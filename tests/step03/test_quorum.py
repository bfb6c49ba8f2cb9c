"""Section 8 of the lesson, against a real RabbitMQ: a poison task (it kills the process that
runs it) comes back for ever on a classic queue, and on the step's quorum queue it is
dead-lettered after its delivery limit, where `dead_letters` finds it. Each test has a vhost of
its own, removed after: nothing is left on the shared `/`."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from contextlib import contextmanager

from tests.step03.test_vhost import rabbitmqctl
from tests.support.processes import Process
from tests.support.services import require
from workshop.environment import environment
from workshop.settings import ROOT
from workshop.steps import STEPS
from workshop.waiting import wait_until

POISON = "step03_django_rabbitmq.articles.tasks.poison"


@contextmanager
def worker_on_a_vhost_of_its_own(tmp_path, **env: str):
    """A step-3 worker (one pool process) on a new vhost; its variables; then all removed."""
    require("rabbitmq", "postgresql", "rabbitmqctl")
    vhost, name = f"quorum-{secrets.token_hex(4)}", f"poison-{secrets.token_hex(3)}@%h"
    rabbitmqctl("add_vhost", vhost)
    worker = None
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        variables = {
            **os.environ,
            **environment(STEPS["step03"], {"WORKSHOP_MODE": "services"}).variables,
            "CELERY_BROKER_URL": f"amqp://guest:guest@localhost:5672/{vhost}",
            "CELERY_TASK_DEFAULT_QUEUE": "scraper",  # alone on its vhost
            "DJANGO_DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "step03_django_rabbitmq.project.settings",
            **env,
        }
        # The worker records its tasks in the step's database: its tables must be there, as
        # `make step03` makes them (a new machine's database has none).
        migrate = [sys.executable, "step03_django_rabbitmq/manage.py", "migrate", "--noinput"]
        subprocess.run(
            migrate, cwd=ROOT, env=variables, check=True, capture_output=True, timeout=120
        )
        args = [sys.executable, "-m", "celery", "-A", "step03_django_rabbitmq.project", "worker"]
        args += ["--loglevel=INFO", "--concurrency=1", f"--hostname={name}"]
        worker = Process("worker", args, tmp_path, variables, ROOT)
        worker.wait_for_log(" ready.", timeout=60)
        yield worker, variables
    finally:
        if worker is not None:
            worker.kill()
        rabbitmqctl("delete_vhost", vhost)  # its queues and exchanges go with it


def deliveries(worker: Process) -> int:
    return len(re.findall(rf"Task {POISON}\[[^]]+\] received", worker.log()))


def test_a_poison_task_is_dead_lettered_after_the_delivery_limit(tmp_path):
    with worker_on_a_vhost_of_its_own(tmp_path, SCRAPER_DELIVERY_LIMIT="2") as (worker, env):
        done = subprocess.run(
            [sys.executable, "-m", "step03_django_rabbitmq.dead_letters", "--send-poison"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Global QoS is disabled" in worker.log()  # Celery saw the quorum queue
        # The first delivery, then 2 more (the limit); then RabbitMQ gave up on it.
        assert deliveries(worker) == 3, worker.log()
        assert "scraper.dead holds 1 message(s):" in done.stdout, done.stdout
        assert re.search(r"poison \S+  reason: delivery_limit  from queue scraper", done.stdout)
        # It stays there for someone to read: a second look finds it again.
        again = subprocess.run(
            [sys.executable, "-m", "step03_django_rabbitmq.dead_letters"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "scraper.dead holds 1 message(s):" in again.stdout, again.stdout + again.stderr
        assert worker.alive()  # the worker itself lost pool processes, never its life


def test_on_a_classic_queue_the_poison_task_comes_back_again_and_again(tmp_path):
    classic = {"CELERY_TASK_DEFAULT_QUEUE_TYPE": "classic", "SCRAPER_DELIVERY_LIMIT": "2"}
    with worker_on_a_vhost_of_its_own(tmp_path, **classic) as (worker, env):
        send = "from step03_django_rabbitmq.articles.tasks import poison; poison.delay()"
        setup = "import django; django.setup(); "
        subprocess.run(
            [sys.executable, "-c", setup + send], cwd=ROOT, env=env, check=True, timeout=60
        )
        # Twice the limit a quorum queue would have allowed, and still coming.
        wait_until(lambda: deliveries(worker) >= 5, 90, interval=0.5, what="5 deliveries")
        assert "Global QoS is disabled" not in worker.log()
