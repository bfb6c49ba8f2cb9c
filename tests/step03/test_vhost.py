"""The lesson's RabbitMQ virtual host and user, made with its own commands (rabbitmqctl), used
by the whole step, then removed: a vhost and a user of the test's own, never the shared `/`."""

from __future__ import annotations

import secrets
import subprocess

from tests.step03.conftest import stack03
from tests.support.commands import workshop
from tests.support.services import require
from workshop.probe import find_binary


def rabbitmqctl(*args: str) -> None:
    done = subprocess.run(
        [find_binary("rabbitmqctl"), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_step_runs_on_a_vhost_and_user_of_its_own(tmp_path_factory):
    require("rabbitmq", "postgresql", "rabbitmqctl")
    unique = secrets.token_hex(4)
    vhost, user, password = f"extractor-{unique}", f"scraper-{unique}", secrets.token_hex(12)
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("add_user", user, password)
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        broker = f"amqp://{user}:{password}@localhost:5672/{vhost}"
        with stack03(tmp_path_factory, "vhost", CELERY_BROKER_URL=broker) as stack:
            with stack.client() as client:
                result = stack.scrape(client)["result"]
            log = (stack.logs / "worker.log").read_text()
            # A check without the password cannot ping: it says which variable it needs.
            elsewhere = {k: v for k, v in stack.env.items() if k != "CELERY_BROKER_URL"}
            done = workshop("check", "step03", "--timeout", "60", env=elsewhere)
        assert (result["created"], result["failed"]) == (21, 2)
        assert f"Connected to amqp://{user}:**@127.0.0.1:5672/{vhost}" in log
        assert done.returncode == 1
        assert f"✗ could not ping the workers: the step uses the broker amqp://{user}:**@" in (
            done.stdout
        )
        assert "give it the same CELERY_BROKER_URL" in done.stdout
    finally:
        rabbitmqctl("delete_vhost", vhost)  # its queues and exchanges go with it
        subprocess.run([find_binary("rabbitmqctl"), "delete_user", user], capture_output=True)
