"""Step 2 as a learner runs it: `python -m workshop run step02` (what `make step02` runs) with
real nginx, Gunicorn, two Celery workers and Flower under supervisord, on free ports, with
RabbitMQ as the broker and PostgreSQL as the result backend."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import SETTINGS, delete_queues
from workshop.probe import ping_workers
from workshop.procs import env_with_venv, free_port, wait_until
from workshop.settings import ROOT

pytestmark = pytest.mark.needs("rabbitmq", "postgresql", "nginx")


@dataclass
class Stack02:
    env: dict[str, str]
    run_dir: Path
    launcher: subprocess.Popen
    log: Path

    @property
    def nginx(self) -> str:
        return f"http://127.0.0.1:{self.env['NGINX_PORT']}"

    @property
    def gunicorn(self) -> str:
        return f"http://127.0.0.1:{self.env['GUNICORN_PORT']}"

    @property
    def logs(self) -> Path:
        return self.run_dir / "step02" / "logs"

    def workshop(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "workshop", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def supervisorctl(self, *args: str) -> str:
        conf = self.run_dir / "step02" / "supervisord.conf"
        done = subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    def submit(self, client: httpx.Client, seconds: float = 0.0) -> str:
        answer = client.post("/api/process_data", json={"seconds": seconds})
        assert answer.status_code == 202, answer.text
        return answer.json()["task_id"]

    def wait_for_both_workers(self, timeout: float) -> None:
        """Until this stack's worker1 and worker2 both answer ping."""
        prefix = self.env["WORKER_PREFIX"]

        def both_answer() -> bool:
            names = {n.split("@")[0] for n in ping_workers(SETTINGS.celery_broker_url, {}, 1)}
            return {f"{prefix}worker1", f"{prefix}worker2"} <= names

        wait_until(both_answer, timeout, what="both workers answering ping")

    def wait_done(self, client: httpx.Client, task_id: str, timeout: float = 30) -> dict:
        def done():
            body = client.get(f"/api/tasks/{task_id}").json()
            return body if body["state"] in ("SUCCESS", "FAILURE") else None

        return wait_until(done, timeout, what=f"task {task_id}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # The module's `needs` marker is checked before this fixture runs (tests/conftest.py).
    run_dir = tmp_path_factory.mktemp("step02")
    env = env_with_venv(
        {
            "WORKSHOP_MODE": "services",
            "WORKSHOP_RUN_DIR": str(run_dir),
            "NGINX_PORT": str(free_port()),
            "GUNICORN_PORT": str(free_port()),
            "FLOWER_PORT": str(free_port()),
            "GUNICORN_WORKERS": "2",
            "FLOWER_BASIC_AUTH": "tester:s3cret",
            "CELERY_TASK_DEFAULT_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
            # Worker names of its own: a learner's step may run on the same broker.
            "WORKER_PREFIX": f"t{uuid.uuid4().hex[:6]}-",
            "TASK_SECONDS": "0.2",
            "COLUMNS": "200",  # tables as in a wide terminal: one row, one line
        }
    )
    log = run_dir / "launcher.log"
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "workshop", "run", "step02"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack02(env, run_dir, launcher, log)
    try:
        wait_until(
            lambda: launcher.poll() is not None or "is up" in log.read_text(),
            120,
            what="step 2 starting",
        )
        assert launcher.poll() is None, log.read_text()
        yield stack
    finally:
        pids = (
            [p.pid for p in psutil.Process(launcher.pid).children(recursive=True)]
            if (launcher.poll() is None)
            else []
        )
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C does
            launcher.wait(timeout=60)
        leftovers = [
            pid
            for pid in pids
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]
        delete_queues([env["CELERY_TASK_DEFAULT_QUEUE"]])
        assert not leftovers, f"processes left after Ctrl-C: {leftovers}\n{log.read_text()[-3000:]}"


def test_check_step02_passes_hop_by_hop(stack):
    done = stack.workshop("check", "step02", "--url", stack.nginx)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "✓ Nginx answers",
        "✓ Gunicorn master (pid",
        "with 2 workers",
        "✓ RabbitMQ reachable",
        "✓ PostgreSQL reachable",
        "✓ 2 Celery workers answer ping",
        "✓ 2 workers took tasks",
        "✓ a 2 MB body gets a JSON 413",
        "✓ Flower answers on port",
    ):
        assert line in done.stdout, done.stdout
    assert "✗" not in done.stdout


def test_fifty_requests_all_accepted_all_finished_on_both_workers(stack):
    with httpx.Client(base_url=stack.nginx, timeout=10) as client:
        with ThreadPoolExecutor(10) as pool:
            ids = list(pool.map(lambda _: stack.submit(client, 0.05), range(50)))
        results = [stack.wait_done(client, task_id) for task_id in ids]
    assert all(r["state"] == "SUCCESS" for r in results)
    workers = {r["result"]["worker"] for r in results}
    prefix = stack.env["WORKER_PREFIX"]
    assert {w.split("@")[0] for w in workers} == {f"{prefix}worker1", f"{prefix}worker2"}


def test_one_id_follows_the_request_through_every_hop(stack):
    with httpx.Client(base_url=stack.nginx, timeout=10) as client:
        answer = client.post("/api/process_data", json={"seconds": 0.3})
        request_id, task_id = answer.headers["x-request-id"], answer.json()["task_id"]
        result = stack.wait_done(client, task_id)
    worker = result["result"]["worker"]

    def logged_everywhere():
        logs = {
            name: (stack.logs / name).read_text()
            for name in ("nginx-access.log", "gunicorn.log", "worker1.log", "worker2.log")
        }
        return (
            f'"request_id":"{request_id}"' in logs["nginx-access.log"]
            and f"request_id={request_id}" in logs["gunicorn.log"]  # access log
            and re.search(
                rf"request_id={request_id} POST /api/process_data -> 202", logs["gunicorn.log"]
            )  # the Flask hop
            and f"task {task_id} request_id={request_id} on {worker}"  # from AMQP headers
            in logs["worker1.log"] + logs["worker2.log"]
        )

    wait_until(logged_everywhere, 10, what="the request id in every log")

    done = stack.workshop("trace", task_id, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = json.loads(done.stdout)
    assert timeline["request_id"] == request_id and timeline["worker"] == worker
    hops = [s["hop"] for s in timeline["segments"]]
    assert hops == [
        "Nginx → Gunicorn",
        "Flask: record the id",
        "publish (AMQP)",
        "waiting in the queue",
        "running in the worker",
        "storing the result",
    ]
    durations = [s["ms"] for s in timeline["segments"]]
    assert all(d >= 0 for d in durations)
    assert sum(durations) == pytest.approx(timeline["total_ms"])
    running = durations[hops.index("running in the worker")]
    assert 300 <= running < 3000, "the task works for 0.3 s"
    # The hops end when the result is stored: that is when the worker says the task finished.
    assert timeline["total_ms"] >= running

    human = stack.workshop("trace", task_id)
    assert "running in " + worker in human.stdout and "total" in human.stdout


def test_a_request_straight_to_gunicorn_has_a_timeline_without_the_nginx_hop(stack):
    with httpx.Client(base_url=stack.gunicorn, timeout=10) as client:
        task_id = stack.submit(client, 0.1)
        stack.wait_done(client, task_id)
    done = stack.workshop("trace", task_id, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = json.loads(done.stdout)
    assert timeline["request"].endswith("(no Nginx)")
    assert [s["hop"] for s in timeline["segments"]][0] == "Flask: record the id"
    assert sum(s["ms"] for s in timeline["segments"]) == pytest.approx(timeline["total_ms"])


def test_a_stopped_gunicorn_is_a_json_502_within_a_second(stack):
    assert "gunicorn: stopped" in stack.supervisorctl("stop", "gunicorn")
    try:
        started = time.monotonic()
        answer = httpx.get(f"{stack.nginx}/health", timeout=5)
        assert time.monotonic() - started < 1
        assert answer.status_code == 502
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"] == "Bad Gateway"
    finally:
        stack.supervisorctl("start", "gunicorn")
        wait_until(
            lambda: httpx.get(f"{stack.nginx}/health", timeout=2).status_code == 200,
            30,
            what="Gunicorn back",
        )


def test_a_body_over_the_limit_is_a_json_413_from_nginx(stack):
    answer = httpx.post(
        f"{stack.nginx}/api/process_data",
        content=b"x" * 2_000_000,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 413
    assert answer.headers["server"] == "nginx"  # no version: server_tokens off
    assert answer.json()["error"] == "Request Entity Too Large"
    assert len(answer.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /% HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # a URI Nginx cannot decode
        (b"GARBAGE\r\n\r\n", 400),  # not HTTP at all
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 400),
        (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /_errors/400.json HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ],
)
def test_errors_nginx_answers_itself_are_json(stack, request_bytes, status):
    port = int(stack.env["NGINX_PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == str(status).encode(), head
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"]


def test_a_client_cannot_forge_the_host_of_the_status_url(stack):
    # ProxyFix trusts X-Forwarded-Host from one proxy: Nginx must overwrite the client's own.
    answer = httpx.post(
        f"{stack.nginx}/api/process_data",
        json={"seconds": 0},
        headers={"X-Forwarded-Host": "evil.example"},
        timeout=10,
    )
    assert answer.status_code == 202
    assert "evil.example" not in answer.headers["location"]
    assert answer.headers["location"].startswith(f"{stack.nginx}/api/tasks/")


def test_a_worker_killed_with_sigkill_is_restarted_and_the_rest_keep_serving(stack):
    old = int(stack.supervisorctl("pid", "worker1").strip())
    os.kill(old, signal.SIGKILL)
    with httpx.Client(base_url=stack.nginx, timeout=10) as client:
        # At once: the web and worker2 still serve.
        ids = [stack.submit(client, 0) for _ in range(4)]
        assert all(stack.wait_done(client, i)["state"] == "SUCCESS" for i in ids)

    def restarted():
        status = stack.supervisorctl("status", "worker1")
        pid = re.search(r"RUNNING\s+pid (\d+)", status)
        return pid and int(pid.group(1)) != old

    wait_until(restarted, 30, what="supervisord restarting worker1")
    # RUNNING means "up for a second"; the new worker answers ping once it has booted.
    stack.wait_for_both_workers(30)


def test_ps_shows_the_masters_and_their_workers(stack):
    done = stack.workshop("ps", "step02")
    assert done.returncode == 0, done.stdout
    out = done.stdout
    assert out.count("Nginx master") == 1 and out.count("Nginx worker") == 2
    assert out.count("Gunicorn master") == 1 and out.count("Gunicorn worker") == 2
    prefix = stack.env["WORKER_PREFIX"]
    assert out.count(f"Celery worker {prefix}worker1@") == 1
    assert out.count(f"Celery worker {prefix}worker2@") == 1
    assert out.count("Celery pool process") == 4 and "Flower" in out


def test_flower_asks_for_the_password_from_the_environment(stack):
    url = f"http://127.0.0.1:{stack.env['FLOWER_PORT']}/"
    assert httpx.get(url, timeout=5).status_code == 401
    assert httpx.get(url, auth=("tester", "s3cret"), timeout=5).status_code == 200


@pytest.mark.parametrize("target", ["nginx", "gunicorn"])
def test_stress_prints_its_figures_and_loses_nothing(stack, target):
    done = stack.workshop("stress", "-n", "40", "-c", "8", "--target", target)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"40 requests, 8 concurrent, through {target}" in out
    assert re.search(r"enqueue rate\s+│ \d+ requests/s", out)
    assert re.search(r"errors\s+│ 0", out) and re.search(r"unfinished tasks.*│ 0", out)
    assert re.search(r"worker1@\S+: \d+, \S+worker2@\S+: \d+", out)
    assert "baseline: apply_async" in out


def test_stress_fails_when_accepted_tasks_do_not_finish(stack):
    stack.supervisorctl("stop", "worker1", "worker2")
    try:
        done = stack.workshop("stress", "-n", "5", "-c", "2", "--no-baseline", "--timeout", "2")
        assert done.returncode == 1
        assert "5 accepted tasks not finished after 2 s" in done.stdout
    finally:
        stack.supervisorctl("start", "worker1", "worker2")
        stack.wait_for_both_workers(60)


def test_the_demo_runs_on_the_running_stack(stack):
    done = stack.workshop("demo", "-n", "20", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already answers" in done.stdout  # it used this stack and did not stop it
    assert "One request, hop by hop" in done.stdout and "tasks per worker" in done.stdout
    assert httpx.get(f"{stack.nginx}/health", timeout=5).status_code == 200
