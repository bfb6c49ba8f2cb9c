"""Step 2 as a learner runs it, on the stack of conftest.py: every hop, and what happens when
a process dies."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from workshop.probe import http_ok
from workshop.waiting import wait_until


def test_fifty_requests_all_accepted_all_finished_on_both_workers(stack):
    with httpx.Client(base_url=stack.nginx, timeout=10) as client:
        with ThreadPoolExecutor(10) as pool:
            ids = list(pool.map(lambda _: stack.submit(client, 0.05), range(50)))
        results = [stack.wait_done(client, task_id) for task_id in ids]
    assert all(r["state"] == "SUCCESS" for r in results)
    workers = {r["result"]["worker"] for r in results}
    prefix = stack.env["WORKER_PREFIX"]
    assert {w.split("@")[0] for w in workers} == {f"{prefix}worker1", f"{prefix}worker2"}


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
        # Below 500: Gunicorn answers again (a request while it boots may time out: poll on).
        wait_until(lambda: http_ok(f"{stack.nginx}/health"), 30, what="Gunicorn back")


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


def test_flower_asks_for_the_password_from_the_environment(stack):
    url = f"http://127.0.0.1:{stack.env['FLOWER_PORT']}/"
    assert httpx.get(url, timeout=5).status_code == 401
    assert httpx.get(url, auth=("tester", "s3cret"), timeout=5).status_code == 200
