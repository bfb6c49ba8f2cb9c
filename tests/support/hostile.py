"""A battery of hostile HTTP requests, sent as raw bytes to a running step (the real server, not
a test client), and what every answer must be:

- a 4xx (or what a valid request gets: HEAD on a GET endpoint is a 200), never a 5xx;
- JSON with a message under /api/ and /health;
- no traceback, no setting, no password inside a URL, no secret key in any body;
- within 5 s: no hang;
- nothing started: the test compares the step's queues before and after.

Each step lists its endpoints (`Endpoints`); `battery()` builds the requests from them: bodies,
paths, headers and methods. The requests are plain data, so that a failure names the case."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kombu import Connection

from workshop.probe import queue_depth

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND")
# What only a debug page or a leaked configuration shows.
SETTINGS_MARKERS = ("INSTALLED_APPS", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "CELERY_BROKER_URL")


@dataclass(frozen=True)
class Hostile:
    name: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # "auto": a Content-Length of the body's size; "chunked": Transfer-Encoding: chunked; None:
    # no length at all; any other text: sent as the Content-Length header, as it is.
    length: str | None = "auto"
    expect: frozenset[int] = frozenset(range(400, 500))
    # Whether its error answer must be JSON: on the step's API paths, except where the HTTP
    # server itself refuses the request before any app code runs and the step has nothing in
    # front of it that answers JSON (step 1's development server, Uvicorn).
    json: bool = True

    def raw(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1"]
        names = {name.lower() for name, _ in self.headers}
        if "host" not in names:
            lines.append("Host: localhost")
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append("Connection: close")
        body = self.body
        if self.length == "auto":
            if body or self.method in ("POST", "PUT", "PATCH"):
                lines.append(f"Content-Length: {len(body)}")
        elif self.length == "chunked":
            lines.append("Transfer-Encoding: chunked")
            pieces = [body[i : i + 4096] for i in range(0, len(body), 4096)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        elif self.length is not None:
            lines.append(f"Content-Length: {self.length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def send(port: int, request: Hostile, timeout: float = 5) -> Answer:
    """One request on its own connection, and its answer. Like curl, it reads while it sends:
    a server may answer (a 413) before the body is all sent, and stop reading it."""
    started = time.monotonic()
    data, sent, reply = request.raw(), 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setblocking(False)
        while not complete(reply):
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{request.name}: no whole answer in {timeout} s")
            writing = [sock] if sent < len(data) and not reply else []
            readable, writable, _ = select.select([sock], writing, [], 0.2)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    chunk = b""
                if not chunk:
                    break  # closed by the server
                reply += chunk
            elif writable:
                try:
                    sent += sock.send(data[sent : sent + 65536])
                except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                    sent = len(data)  # refused before the end: read the answer
    seconds = time.monotonic() - started
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1."):
        raise AssertionError(f"{request.name}: no HTTP answer: {reply[:200]!r}")
    headers = parse_headers(lines[1:])
    if headers.get("transfer-encoding") == "chunked":
        body = unchunk(body)
    return Answer(int(lines[0].split()[1]), headers, body, seconds)


def parse_headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def complete(reply: bytes) -> bool:
    """Whether `reply` holds a whole answer: its head, then its Content-Length's worth of body
    or its last chunk. (An answer with neither ends when the server closes.)"""
    head, found, body = reply.partition(b"\r\n\r\n")
    if not found:
        return False
    headers = parse_headers(head.decode("latin-1").split("\r\n")[1:])
    if headers.get("transfer-encoding") == "chunked":
        return body.endswith(b"0\r\n\r\n")
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        return len(body) >= int(length)
    status = head.split(b" ", 2)[1:2]
    return status in ([b"204"], [b"304"])


def unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        length = int(size.split(b";")[0] or b"0", 16)
        if length == 0:
            break
        out, data = out + rest[:length], rest[length + 2 :]
    return out


def problems(request: Hostile, answer: Answer, secrets: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with this answer to this request (nothing: an empty list). `secrets`: what
    must never be shown (see `secrets_of`)."""
    found = []
    text = answer.body.decode("utf-8", "replace")
    if answer.status not in request.expect:
        found.append(f"status {answer.status}, expected {sorted(request.expect)[:3]}…")
    if request.json and answer.status >= 400 and request.method != "HEAD":
        if not answer.content_type.startswith("application/json"):
            found.append(f"{answer.content_type or 'no content type'}, not JSON")
        else:
            try:
                body = json.loads(text)
            except ValueError:
                found.append("a body that is not JSON")
            else:
                if not isinstance(body, dict) or not (
                    body.get("error") or body.get("message") or body.get("detail")
                ):
                    found.append("JSON without a message")
    if request.method == "HEAD" and answer.body:
        found.append("a body in the answer to HEAD")
    if "Traceback" in text or 'File "' in text:
        found.append("a traceback")
    found += [f"a setting: {marker}" for marker in SETTINGS_MARKERS if marker in text]
    found += [f"a secret: {secret[:6]}…" for secret in secrets if secret and secret in text]
    if "X-Forwarded-Host" in request.name and "evil.example" in text:
        found.append("the attacker's host in the answer")
    if answer.seconds > 5:
        found.append(f"{answer.seconds:.1f} s")
    return [f"{request.name} ({request.method} {request.path[:60]}): {p}" for p in found]


@dataclass
class Endpoints:
    """What a step serves: its GET endpoints, its POST endpoints with a valid body each, the
    paths whose GET starts work (never HEAD-ed as a 200), and where its server answers itself."""

    get: tuple[str, ...]
    post: dict[str, bytes]  # each with a body it accepts
    static: str | None = None  # a file it serves, for the traversal cases
    starts_work: tuple[str, ...] = ()
    server_json: bool = True  # the server's own refusals are JSON (Nginx, step 3's Gunicorn)
    by_id: str = "/api/tasks/"  # a path that ends with an id
    api: tuple[str, ...] = ("/api/", "/health")  # where every answer is JSON
    pages: tuple[str, ...] = ()  # under those, what is a page (step 4's /canvas)

    def json(self, path: str, refused_by_the_server: bool = False) -> bool:
        if refused_by_the_server and not self.server_json:
            return False
        return path.startswith(self.api) and not path.startswith(self.pages)

    refused_bodies: dict[str, bytes] = field(default_factory=dict)  # valid JSON, refused
    skip: tuple[str, ...] = ()  # cases left out, each with its reason where the step lists it


def battery(endpoints: Endpoints) -> list[Hostile]:
    cases: list[Hostile] = []
    json_type = (("Content-Type", "application/json"),)
    four = frozenset(range(400, 500))

    def add(name, method, path, headers=(), body=b"", length="auto", expect=four, server=False):
        """`server`: a request the HTTP server itself refuses, before any app code runs."""
        json = endpoints.json(path, refused_by_the_server=server)
        cases.append(Hostile(name, method, path, headers, body, length, expect, json))

    # Bodies, on every POST endpoint. A valid body goes with a wrong header: nothing may start.
    for path, valid in endpoints.post.items():
        bodies = {
            "deep nesting": b"[" * 100_000 + b"]" * 100_000,
            "deep objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
            "not UTF-8": b'{"x": "\xff\xfe"}',
            "NUL in a string": b'{"source": "http://a\\u0000b/", "seconds": "\\u0000"}',
            "a raw NUL": b'{"x": 1}\x00',
            "a 5000-digit number": b'{"source": ' + b"9" * 5000 + b"}",
            "a 5000-digit number, seconds": b'{"seconds": ' + b"9" * 5000 + b"}",
            "a 5000-digit number, a": b'{"a": ' + b"9" * 5000 + b', "b": 1}',
            "NaN": b'{"seconds": NaN, "a": NaN}',
            "an array": b"[1, 2, 3]",
            "a string": b'"hello"',
            "null": b"null",
            "wrong types": b'{"source": 5, "seconds": "x", "a": [], "b": {}}',
            "not JSON": b"source=http://169.254.169.254/",
            "truncated JSON": b'{"source": "http://',
            "2 MB": b'{"x": "' + b"a" * 2_000_000 + b'"}',
        }
        for name, body in bodies.items():
            add(f"body: {name}", "POST", path, json_type, body)
        big = b"[" + b"0," * 1_000_000 + b"0]"
        add("body: 2 MB, chunked", "POST", path, json_type, big, "chunked")
        for name, body in endpoints.refused_bodies.items():
            add(f"refused: {name}", "POST", path, json_type, body)
            add(f"refused, chunked: {name}", "POST", path, json_type, body, "chunked")
        for kind in ("text/plain", "multipart/form-data; boundary=x", "application/xml"):
            add(f"content type {kind}", "POST", path, (("Content-Type", kind),), valid)
        # (Not a charset: JSON is UTF-8, and a charset parameter "has no effect on compliant
        # recipients", RFC 8259, section 11. A valid body with one is a valid request.)
        for length in ("abc", "-1", "1e3", "99999999999999999999999"):
            add(f"Content-Length {length}", "POST", path, json_type, valid, length, server=True)
        two = (*json_type, ("Content-Length", str(len(valid))))
        add("two Content-Lengths", "POST", path, two, valid, str(len(valid) + 3), server=True)

    # Paths: traversal in several encodings, long segments, odd characters.
    static, by_id = endpoints.static or "/static/x", endpoints.by_id
    for name, path in {
        "traversal": f"{static}/../../../../etc/passwd",
        "traversal, encoded": "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "traversal, encoded slash": "/static/..%2f..%2f..%2fetc%2fpasswd",
        "traversal, double encoded": "/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "traversal, backslash": "/static/..%5c..%5c..%5cetc%5cpasswd",
        "traversal, overlong UTF-8": "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "traversal from the API": f"{by_id}../../../etc/passwd",
        "a NUL": f"{by_id}%00",
        "a long segment": by_id + "a" * 3000,
        "a 5000-character id": by_id + "b" * 5000,
        "a 20,000-character path": by_id + "c" * 20_000,
        "unicode": f"{by_id}%F0%9F%92%A5%E2%80%AE",
        "invalid percent": f"{by_id}%zz%",
        "an unknown API path": "/api/nothing-here",
    }.items():
        add(f"path: {name}", "GET", path, server=len(path) > 4000)

    # Headers.
    for name, headers in {
        "another Host": (("Host", "evil.example"),),
        "a long Host": (("Host", "evil.example" + "x" * 300),),
        "a Host with a port and a path": (("Host", "localhost:1/../x"),),
        "X-Forwarded-Host, ignored": (("X-Forwarded-Host", "evil.example"),),
        "a 6 KB header": (("X-Big", "x" * 6_000),),
        "a 20 KB header": (("X-Huge", "x" * 20_000),),
        "120 headers": tuple((f"X-H{i}", "v") for i in range(120)),
        "a cookie of 5 KB": (("Cookie", "a=" + "b" * 5_000),),
    }.items():
        big = name in ("a 20 KB header", "120 headers")
        for path in ("/health", endpoints.get[0], endpoints.get[-1]):
            expect = four if " Host" in name else four | {200}
            add(f"header: {name}", "GET", path, headers, expect=expect, server=big)

    # Methods: every method on every endpoint. HEAD on a GET endpoint is answered as GET (but
    # where a GET starts work); OPTIONS may be answered with the allowed methods.
    for path in (*endpoints.get, *endpoints.starts_work, *endpoints.post, "/api/nothing-here"):
        for method in METHODS:
            if method == "GET" and path in (*endpoints.get, *endpoints.starts_work):
                continue  # a valid request, not a hostile one
            if method == "POST" and path in endpoints.post:
                continue
            expect = four
            if method == "HEAD" and path in endpoints.get:
                expect = frozenset({200, 202, 404})
            elif method == "OPTIONS":
                expect = four | {200, 204}
            headers = json_type if method in ("POST", "PUT", "PATCH") else ()
            add(f"method {method}", method, path, headers, expect=expect)
    return [case for case in cases if case.name not in endpoints.skip]


def tally(answers: list[tuple[Hostile, Answer]]) -> str:
    """The answers' classes, for the closing note: '52 × 400, 40 × 405, ...'."""
    counts = Counter(answer.status for _, answer in answers)
    return ", ".join(f"{n} × {status}" for status, n in sorted(counts.items()))


def queued(broker_url: str, queues: list[str]) -> int:
    """How many messages wait in these queues (0 for a queue that does not exist)."""
    return sum(queue_depth(broker_url, {}, queue) for queue in queues)


def secrets_of(env: dict[str, str], *more: str) -> tuple[str, ...]:
    """The passwords inside the step's service URLs (as ":password@"), and `more`."""
    found = [*more]
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DATABASE_URL"):
        password = urlsplit(env.get(name, "")).password
        if password:
            found.append(f":{password}@")
    return tuple(found)


def run(port: int, endpoints: Endpoints, secrets: tuple[str, ...]) -> tuple[list, list[str]]:
    """The whole battery against one port: the answers, and what is wrong with them."""
    answers, found = [], []
    for request in battery(endpoints):
        try:
            answer = send(port, request)
        except (TimeoutError, OSError, AssertionError) as error:
            found.append(f"{request.name} ({request.method} {request.path[:60]}): {error}")
            continue
        answers.append((request, answer))
        found += problems(request, answer, secrets)
    return answers, found


def purge(broker_url: str, queues: list[str]) -> None:
    """Empty these queues (what the battery's valid control request published)."""
    with Connection(broker_url) as connection:
        for queue in queues:
            with contextlib.suppress(Exception):  # not declared: nothing to purge
                connection.default_channel.queue_purge(queue)
