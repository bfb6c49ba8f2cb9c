"""The bad-input battery through step 2's Nginx (real Nginx, Gunicorn, app): generated bodies
and ids, wrong methods, header abuse; every answer a JSON 4xx with a message, never a 5xx."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.bad_input import BAD_BODIES, ODD_IDS, assert_json_4xx

pytestmark = pytest.mark.needs("rabbitmq", "postgresql", "nginx")
SETTINGS = settings(
    max_examples=25,  # the raw cases are in test_hostile.py; these add generated ones
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def nginx(stack):
    with httpx.Client(base_url=stack.nginx, timeout=10) as client:
        yield client


def check(answer: httpx.Response, allowed=range(400, 500)) -> None:
    assert_json_4xx(
        answer.status_code, answer.headers.get("content-type", ""), answer.text, allowed
    )


@SETTINGS
@given(body=BAD_BODIES)
def test_a_bad_body_gets_a_json_400(nginx, body):
    headers = {"Content-Type": "application/json"}
    check(nginx.post("/api/process_data", content=body, headers=headers), {400})


@SETTINGS
@given(task_id=ODD_IDS)
def test_an_id_never_submitted_gets_a_json_4xx(nginx, task_id):
    check(nginx.get(f"/api/tasks/{quote(task_id, safe='')}"))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_a_wrong_method_gets_a_json_405(nginx, method):
    check(nginx.request(method, "/api/process_data"), {405})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Huge": "x" * 20_000},  # over Nginx's header buffers
        {"Content-Length": "abc"},
        {"Content-Type": "application/json; charset=klingon"},
        {"Host": "evil.example" + "x" * 300},
    ],
    ids=["huge-header", "bad-content-length", "odd-charset", "long-host"],
)
def test_header_abuse_gets_a_json_4xx(stack, headers):
    # Raw bytes: httpx would refuse to send some of these.
    import socket

    lines = ["POST /api/process_data HTTP/1.1", "Connection: close", "Content-Length: 2"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if not any(name.lower() == "host" for name in headers):
        lines.append("Host: localhost")
    raw = ("\r\n".join(lines) + "\r\n\r\n{}").encode()
    if "Content-Length" in headers:
        raw = raw.replace(b"Content-Length: 2\r\n", b"", 1)
    with socket.create_connection(("127.0.0.1", stack.port("nginx")), timeout=10) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    content_type = next(
        (
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-type:")
        ),
        "",
    )
    if "X-Huge" in headers or "Content-Length" in headers:
        assert status == 400  # refused by Nginx itself, as JSON
    elif status == 202:  # an odd charset or Host: the app may accept the body
        return
    assert_json_4xx(status, content_type, body.decode(errors="replace"))
