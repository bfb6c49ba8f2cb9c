"""Step 3's container set-up (docker-compose.yml, step03-broker-setup) run for real: its shell
commands, against the RabbitMQ management API of this machine, with a vhost and a user of the
test's own; then the user connects to the vhost, and both are removed."""

from __future__ import annotations

import secrets
import shutil
import subprocess

import httpx
import pytest
from kombu import Connection

from tests.repo.test_containers import COMPOSE

pytestmark = pytest.mark.needs("rabbitmq", "rabbitmq-management")
API = "http://127.0.0.1:15672/api"


def test_the_compose_commands_make_a_vhost_and_a_user_that_can_connect():
    if shutil.which("curl") is None:
        pytest.skip("needs curl, which the container image has")
    unique = secrets.token_hex(4)
    vhost, user, password = f"extractor-{unique}", f"scraper-{unique}", secrets.token_hex(12)
    service = COMPOSE["services"]["step03-broker-setup"]
    script = service["command"][0].replace("$$", "$")  # compose's escape for a literal $
    script = script.replace("http://rabbitmq:15672", "http://127.0.0.1:15672")
    script = script.replace("extractor", vhost)
    env = {"ADMIN": "guest:guest", "SCRAPER_USER": user, "SCRAPER_PASSWORD": password}
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", script],
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"vhost {vhost} and user {user} ready" in done.stdout
        url = f"amqp://{user}:{password}@127.0.0.1:5672/{vhost}"
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
            connection.default_channel.queue_declare("probe", auto_delete=True)
    finally:
        httpx.delete(f"{API}/vhosts/{vhost}", auth=("guest", "guest"), timeout=10)
        httpx.delete(f"{API}/users/{user}", auth=("guest", "guest"), timeout=10)
