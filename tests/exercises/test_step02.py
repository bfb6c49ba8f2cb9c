"""Step 2's exercises, judged by what Nginx, a worker and the history do (make verify EX=02.N)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psutil
import pytest

from tests.support.processes import Process
from tests.support.services import delete_queues, require
from workshop.environment import env_with_venv, environment
from workshop.launcher import render_templates
from workshop.launcher.processes import stop_tree
from workshop.probe import celery_client, find_binary, free_port, port_in_use
from workshop.settings import ROOT
from workshop.steps import STEPS
from workshop.waiting import wait_until

STEP = STEPS["step02"]


class Gunicorn(BaseHTTPRequestHandler):
    """Stands in for Gunicorn behind Nginx: answers JSON, and notes each request's headers and
    the connection it came on."""

    protocol_version = "HTTP/1.1"  # keeps connections open, as Gunicorn's gthread workers do
    seen: list[tuple[int, dict]] = []

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        Gunicorn.seen.append((self.client_address[1], dict(self.headers)))
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def front_door(tmp_path):
    """Step 2's Nginx, from the lesson's nginx.conf, in front of a stand-in for Gunicorn."""
    require("nginx")
    Gunicorn.seen = []
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Gunicorn)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    given = {
        "WORKSHOP_MODE": "embedded",
        "WORKSHOP_RUN_DIR": str(tmp_path),
        "NGINX_PORT": str(port),
    }
    env = environment(STEP, given).processes()
    env["GUNICORN_UPSTREAM"] = f"127.0.0.1:{upstream.server_address[1]}"
    run_dir = tmp_path / "step02"
    (run_dir / "logs").mkdir(parents=True)
    render_templates(STEP, run_dir, env)
    folder = run_dir / "nginx"
    nginx = subprocess.Popen(
        [find_binary("nginx"), "-p", str(folder), "-c", str(folder / "nginx.conf")]
        + ["-e", str(run_dir / "logs" / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(lambda: port_in_use(port) or nginx.poll() is not None, 10, what="nginx")
        assert nginx.poll() is None, f"nginx does not start with nginx.conf: {nginx.stderr.read()}"
        yield f"http://127.0.0.1:{port}", upstream
    finally:
        stop_tree(nginx, signal.SIGQUIT, timeout=10)
        upstream.shutdown()


def test_02_1_the_app_hears_who_asked_and_how(tmp_path):
    with front_door(tmp_path) as (url, _):
        forged = {"Host": "shop.example", "X-Forwarded-Host": "evil.example"}
        httpx.get(f"{url}/health", headers=forged, timeout=5)
    headers = {k.lower(): v for k, v in Gunicorn.seen[-1][1].items()}
    expected = {
        "host": "shop.example",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-proto": "http",
        "x-forwarded-host": "shop.example",
    }
    wrong = {
        name: headers.get(name) for name, value in expected.items() if headers.get(name) != value
    }
    assert not wrong, (
        f"behind Nginx the app got {wrong}, for a client that asked for shop.example (and sent "
        "a forged X-Forwarded-Host: evil.example): Nginx must set Host and every X-Forwarded- "
        f"header itself (expected {expected})"
    )


def test_02_1_nginx_keeps_its_connections_to_gunicorn(tmp_path):
    with front_door(tmp_path) as (url, _):
        for _ in range(10):  # ten clients, one after the other, each on a new connection
            httpx.get(f"{url}/health", timeout=5)
    connections = len({port for port, _ in Gunicorn.seen})
    assert connections <= 3, (
        f"10 requests reached Gunicorn on {connections} TCP connections: Nginx opens one per "
        "request. Keep them open: `keepalive` in the upstream block, HTTP/1.1 to the upstream, "
        "and an empty Connection header"
    )


def test_02_1_a_stopped_gunicorn_is_a_json_502(tmp_path):
    with front_door(tmp_path) as (url, upstream):
        upstream.shutdown()
        upstream.server_close()
        answer = httpx.get(f"{url}/api/tasks/x", timeout=5)
    assert answer.status_code == 502, f"with Gunicorn stopped, Nginx answered {answer.status_code}"
    kind = answer.headers.get("content-type", "")
    assert kind.startswith("application/json"), (
        f"the 502 is {kind}, not JSON: an API client cannot read it. Send Nginx's 502 (and 504) "
        "to the JSON pages at the end of nginx.conf, with error_page"
    )


@pytest.mark.needs("rabbitmq", "redis")
def test_02_2_a_task_whose_process_dies_is_run_again(tmp_path):
    """A worker's pool process is killed in the middle of a task: the task must still end."""
    queue, name = f"ex-{uuid.uuid4().hex[:10]}", f"ex{uuid.uuid4().hex[:6]}"
    env = env_with_venv(
        {
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'history.sqlite3'}",
            "OTEL_SDK_DISABLED": "true",
            "WORKSHOP_RUN_DIR": str(tmp_path),
        }
    )
    # `python -m celery`: the code of this repository (its folder first on the path).
    command = [sys.executable, "-m", "celery", "-A", "step02_nginx_gunicorn.worker", "worker"]
    command += ["--concurrency=1"]
    command += ["--loglevel=INFO", f"--hostname={name}@%h", "--without-gossip", "--without-mingle"]
    worker = Process("worker", command, tmp_path, env, ROOT)
    client = celery_client(environment(STEP, env).variables)
    try:
        worker.wait_for_log("ready.", timeout=60)
        task = client.send_task("step01_flask_celery.app.tasks.process_data", args=({}, 2, False))
        wait_until(lambda: task.state in ("STARTED", "PROGRESS"), 20, what="the task running")
        pool = psutil.Process(worker.pid).children()
        for process in pool:
            process.kill()
        with suppress(TimeoutError):
            wait_until(lambda: task.ready(), 30, interval=0.2, what="the task's end")
        assert task.state == "SUCCESS", (
            f"the process running the task was killed, and the task is {task.state}"
            f"{f' ({task.result!r})' if task.state == 'FAILURE' else ''}: its message was "
            "acknowledged when it started, so RabbitMQ cannot give it to a worker again. "
            "Acknowledge it after the task ran, and give it back when the process dies"
        )
    finally:
        worker.kill()
        client.close()
        delete_queues([queue])


def test_02_3_each_run_of_a_task_is_counted(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'history.sqlite3'}")
    from step02_nginx_gunicorn import history

    monkeypatch.setattr(history, "_engine", None)  # made anew, for this database
    history.create_table()
    task_id = str(uuid.uuid4())
    history.finished(task_id, "process_data", "SUCCESS", "worker1@vm", None)
    history.finished(task_id, "process_data", "SUCCESS", "worker2@vm", None)  # ran again
    with history.engine().connect() as connection:
        rows = connection.execute(history.history.select()).mappings().all()
    assert len(rows) == 1, f"the history has {len(rows)} rows for one task"
    assert (rows[0]["runs"], rows[0]["worker"]) == (2, "worker2@vm"), (
        f"a task that ran twice has runs={rows[0]['runs']} and worker={rows[0]['worker']!r} in "
        "the history: the second INSERT failed on the same task_id. Insert the row, or add 1 to "
        "its runs when it is there (INSERT ... ON CONFLICT DO UPDATE)"
    )
