"""Where step 2's spans go: a JSON-lines file by default, an OTLP collector when one is set."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from workshop.environment import env_with_venv
from workshop.settings import ROOT

MAKE_ONE_SPAN = """
from opentelemetry import trace
from step02_nginx_gunicorn import tracing
tracing.setup("test-service")
with trace.get_tracer("test").start_as_current_span("{name}"):
    pass
trace.get_tracer_provider().shutdown()  # flush, as a process does when it exits
"""


def make_one_span(name: str, **env: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MAKE_ONE_SPAN.format(name=name)],
        cwd=ROOT,
        env=env_with_venv(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_spans_go_to_a_json_lines_file_by_default(tmp_path):
    spans = tmp_path / "spans.jsonl"
    make_one_span("hello-file", SPANS_FILE=str(spans))
    [line] = spans.read_text().splitlines()
    span = json.loads(line)
    assert span["name"] == "hello-file"
    assert span["resource"]["attributes"]["service.name"] == "test-service"


def test_spans_go_to_an_otlp_collector_when_its_endpoint_is_set(tmp_path):
    received = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spans = tmp_path / "spans.jsonl"
        make_one_span(
            "hello-otlp",
            SPANS_FILE=str(spans),
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{server.server_port}",
        )
    finally:
        server.shutdown()
    assert [(path, kind) for path, kind, _ in received] == [
        ("/v1/traces", "application/x-protobuf")
    ]
    assert b"hello-otlp" in received[0][2] and b"test-service" in received[0][2]
    assert not spans.exists(), "with a collector, nothing is written to the file"
