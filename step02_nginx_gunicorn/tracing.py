"""OpenTelemetry for step 2: one trace follows a request from Nginx to the stored result.

Nginx starts the trace: it sends `traceparent: 00-<$request_id>-...`, so the trace id IS the
request id of Nginx's access log. Flask continues it, the Celery instrumentation carries it in
the AMQP message headers, and the worker continues it again.

Spans go to a JSON-lines file (SPANS_FILE, .run/step02/spans.jsonl under `make step02`, where
`make trace` reads it), or to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set.
Tracing is off with OTEL_SDK_DISABLED=true. OpenTelemetry reads all three variables too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


def spans_file() -> Path:
    return Path(os.environ.get("SPANS_FILE", ".run/step02/spans.jsonl"))


class JsonLinesExporter(SpanExporter):
    """Append each span as one JSON line; one write per batch keeps processes from interleaving."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # to_json(indent=None) is already one line of JSON per span.
        lines = "".join(span.to_json(indent=None) + "\n" for span in spans)
        with self.lock, self.path.open("a") as out:
            out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def enabled() -> bool:
    """False with OTEL_SDK_DISABLED=true: then nothing is instrumented at all. (OpenTelemetry's
    own switch only makes the spans no-ops: the wrappers around Flask, Celery and the result
    writes would still run on every request.)"""
    return os.environ.get("OTEL_SDK_DISABLED", "false").strip().lower() != "true"


def setup(service_name: str) -> None:
    """Install a tracer provider for this process (call it after any fork). Its sampler comes
    from OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (every request by default): with
    `traceidratio` the choice depends on the trace id only, so every process of a request
    makes the same one."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter: SpanExporter = OTLPSpanExporter()
    else:
        exporter = JsonLinesExporter(spans_file())
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    trace.set_tracer_provider(provider)


# The result writes with a span of their own: the PENDING record (in the web) and the final
# state. STARTED and PROGRESS happen inside the worker's `run` span and would only repeat it.
TRACED_STATES = {"PENDING", "SUCCESS", "FAILURE"}


def trace_result_stores(backend) -> None:
    """A span around the first and last result writes, so the timeline shows "record the id"
    and "storing the result" as hops of their own."""
    tracer = trace.get_tracer("step02.results")
    cls = type(backend)
    if getattr(cls, "_traced", False):
        return
    original = cls.store_result

    def store_result(self, task_id, result, state, *args, **kwargs):
        if state not in TRACED_STATES:
            return original(self, task_id, result, state, *args, **kwargs)
        attributes = {"messaging.message.id": task_id, "celery.state": state}
        request = kwargs.get("request")
        if request is not None and getattr(request, "hostname", None):
            attributes["celery.worker"] = request.hostname  # the worker that ran the task
        with tracer.start_as_current_span(f"store {state}", attributes=attributes):
            return original(self, task_id, result, state, *args, **kwargs)

    cls.store_result = store_result
    cls._traced = True
