"""Step 1 as real processes: `flask run` and a Celery worker, on free ports and unique queues."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time

import httpx
import psutil
import pytest

from tests.support.commands import workshop
from tests.support.launched import LaunchedStep, launched
from tests.support.tasks import states_until_done
from workshop.environment import env_with_venv
from workshop.probe import free_port, http_ok, port_in_use
from workshop.settings import endpoint
from workshop.tcp_proxy import TcpProxy
from workshop.waiting import wait_until

APP_NAME = "step01_flask_celery.app"


def run_check(stack, timeout: float = 10) -> subprocess.CompletedProcess:
    return workshop(
        "check",
        "step01",
        "--url",
        stack.base_url,
        "--timeout",
        str(timeout),
        env=stack.env,
        timeout=timeout + 60,
    )


@pytest.mark.needs("rabbitmq", "redis")
def test_a_real_worker_on_rabbitmq_and_redis(stacks):
    stack = stacks.start("services")
    with stack.client() as client:
        health = client.get("/health").json()
    assert health["embedded"] is False and health["status"] == "ok"
    assert health["broker"]["url"].startswith("amqp://")
    assert health["result_backend"]["url"].startswith("redis://")

    task_id = stack.submit({"seconds": 1.5, "customer": 42})
    with stack.client() as client:
        seen = states_until_done(client, task_id)
    assert seen[-1] == "SUCCESS" and "PROGRESS" in seen, seen
    result = stack.wait_for_task(task_id)["result"]
    assert result["worker"] == stack.worker_name
    assert result["app"] == APP_NAME, "the task ran inside the Flask app context"
    assert result["keys"] == ["customer", "seconds"]
    assert f"Task step01_flask_celery.app.tasks.process_data[{task_id}] succeeded" in (
        stack.processes["worker"].log()
    )

    failing = stack.submit({"seconds": 0, "fail": True})
    body = stack.wait_for_task(failing)
    assert body["state"] == "FAILURE"
    assert body["error"] == {"type": "ValueError", "message": "the request asked this task to fail"}

    check = run_check(stack)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "✗" not in check.stdout
    assert "RabbitMQ reachable at" in check.stdout and "Redis reachable at" in check.stdout


def test_the_same_flow_on_the_embedded_default(stacks):
    stack = stacks.start("embedded")
    assert stack.env["CELERY_BROKER_URL"] == "filesystem://"
    task_id = stack.submit({"seconds": 0.5})
    body = stack.wait_for_task(task_id)
    assert body["state"] == "SUCCESS" and body["result"]["worker"] == stack.worker_name

    check = run_check(stack)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "broker: embedded default filesystem:///" in check.stdout


def test_auto_mode_falls_back_when_no_server_answers(tmp_path):
    # The learner's own variables name servers that do not answer: the launcher chooses the
    # embedded default, says why, and its processes (and the check) follow its choice, although
    # Celery prefers CELERY_BROKER_URL in the environment to what an app is given.
    closed_broker = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    closed_redis = f"redis://127.0.0.1:{free_port()}/0"
    given = {"CELERY_BROKER_URL": closed_broker, "CELERY_RESULT_BACKEND": closed_redis}
    step = LaunchedStep("step01", tmp_path, WORKSHOP_MODE="auto", **given)
    with launched(step):
        health = httpx.get(f"{step.url()}/health", timeout=5).json()
        assert health["embedded"] and health["broker"]["url"] == "filesystem:///"
        assert health["result_backend"]["url"].startswith("db+sqlite:")
        check = step.workshop("check", "step01")
        assert check.returncode == 0, check.stdout + step.log()
    port = endpoint(closed_broker)[1]
    banner = f"broker: embedded default filesystem:/// (nothing answers at 127.0.0.1:{port})"
    assert banner in step.log()
    # The same choice, as `make env STEP=step01` prints it.
    shown = workshop("env", "step01", env=env_with_venv({"WORKSHOP_MODE": "auto", **given}))
    assert banner in shown.stdout and "export CELERY_BROKER_URL=filesystem://" in shown.stdout


def test_services_mode_refuses_to_start_without_its_servers(tmp_path):
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    env = {"WORKSHOP_MODE": "services", "CELERY_BROKER_URL": closed}
    for command in ("env", "run"):
        done = workshop(command, "step01", env=env_with_venv(env), timeout=60)
        assert done.returncode == 1, done.stdout
        message = done.stdout.replace("\n", "")
        assert f"The broker is not reachable at {closed.replace(':guest@', ':**@')}" in message
        assert "make services" in message


@pytest.mark.needs("rabbitmq", "redis")
def test_a_broker_that_dies_gives_quick_503s_and_service_comes_back(stacks):
    rabbit = TcpProxy(("127.0.0.1", 5672)).start()
    stack = stacks.start(
        "services", CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{rabbit.port}//"
    )
    accepted = stack.submit({"seconds": 0})
    assert stack.wait_for_task(accepted)["state"] == "SUCCESS"

    rabbit.cut()
    with stack.client() as client:
        started = time.monotonic()
        answer = client.post("/api/process_data", json={"seconds": 0})
        elapsed = time.monotonic() - started
    assert answer.status_code == 503 and elapsed < 3, (answer.status_code, elapsed)
    assert "Nothing was queued" in answer.json()["message"]

    rabbit.restore()  # the broker is back on the same address
    # The worker reconnects by itself; the app publishes again on the next request.
    task_id = wait_until(
        lambda: _try_submit(stack), timeout=30, what="a 202 after the broker came back"
    )
    assert stack.wait_for_task(task_id, timeout=60)["state"] == "SUCCESS"
    rabbit.cut()


def _try_submit(stack) -> str | None:
    with stack.client() as client:
        answer = client.post("/api/process_data", json={"seconds": 0})
    return answer.json()["task_id"] if answer.status_code == 202 else None


def test_check_fails_with_a_hint_when_no_worker_runs(stacks):
    stack = stacks.start("embedded", worker=False)
    check = run_check(stack, timeout=3)
    assert check.returncode == 1
    assert "✓ Flask answers at" in check.stdout
    assert f"✗ no answer to ping from {stack.worker_name} within 2 s" in check.stdout
    assert re.search(
        r"✗ task \w{8}… still PENDING after 3 s: is a worker running\? "
        r"\(make step01 starts it",
        check.stdout,
    ), check.stdout


def test_a_chunked_body_over_the_limit_gets_413_not_a_cut(stacks):
    # A chunked body has no Content-Length: the size can only be known while reading it.
    stack = stacks.start("embedded", worker=False)
    body = json.dumps({"seconds": 1, "data": "x" * 2_000_000}).encode()
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    with stack.client() as client:
        answer = client.post(
            "/api/process_data", content=chunks, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == "Request Entity Too Large"


def test_check_fails_when_nothing_runs():
    done = workshop("check", "step01", "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "✗ Flask does not answer" in done.stdout and "make step01" in done.stdout


@pytest.mark.needs("rabbitmq", "redis")
def test_make_step01_launcher_runs_the_procfile_and_ctrl_c_stops_everything(tmp_path):
    step = LaunchedStep("step01", tmp_path)
    port = step.port("flask")
    try:
        step.start()
        assert f"curl -s -X POST localhost:{port}/api/process_data" in step.log()
        check = step.workshop("check", "step01")  # PORT says where: no --url needed
        assert check.returncode == 0, check.stdout + step.log()
        assert f"{step.env['WORKER_NAME']}@" in check.stdout
        pids = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", step.log())]
        assert len(pids) == 2, step.log()
        tree = step.workshop("ps", "step01").stdout  # what `make ps` prints for step 1
        assert tree.count("sh -c: the Procfile line's shell") == 2, tree
        assert "Flask development server" in tree and tree.count("Celery pool process") == 2
    finally:
        code = step.interrupt()  # what Ctrl-C in the terminal does; asserts nothing is left
    assert code == 0
    assert "step01 stopped" in step.log()
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert not http_ok(f"http://127.0.0.1:{port}/health")


def test_the_launcher_says_when_the_port_is_taken(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        env = env_with_venv({"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path)})
        done = workshop("run", "step01", "--port", str(port), env=env)
    assert done.returncode == 1
    assert f"Port {port} is already in use" in done.stdout
    suggested = int(re.search(r"make step01 PORT=(\d+)", done.stdout).group(1))
    assert suggested >= port + 10 and not port_in_use(suggested)
