"""What a learner turns off really turns off: with OTEL_SDK_DISABLED=true step 2 installs no
instrumentation at all; OTEL_TRACES_SAMPLER(_ARG) choose which requests are traced."""

from __future__ import annotations

import subprocess

from workshop.environment import VENV_BIN, env_with_venv
from workshop.settings import ROOT

PROBE = """
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from step02_nginx_gunicorn import wsgi
print("celery", CeleryInstrumentor().is_instrumented_by_opentelemetry)
print("flask", getattr(wsgi.app, "_is_instrumented_by_opentelemetry", False))
print("stores", getattr(type(wsgi.celery_app.backend), "_traced", False))
sampler = getattr(trace.get_tracer_provider(), "sampler", None)
print("sampler", sampler.get_description() if sampler else None)
"""


def probe(tmp_path, **env: str) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-c", PROBE],
        cwd=ROOT,
        env=env_with_venv({"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path), **env}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tracing_on_instruments_flask_celery_and_the_result_writes(tmp_path):
    out = probe(tmp_path)
    assert "celery True" in out and "flask True" in out and "stores True" in out


def test_tracing_off_installs_nothing(tmp_path):
    out = probe(tmp_path, OTEL_SDK_DISABLED="true")
    assert "celery False" in out and "flask False" in out and "stores False" in out
    assert "sampler None" in out  # not even a tracer provider of ours


def test_a_sampling_ratio_reaches_the_tracer_provider(tmp_path):
    out = probe(tmp_path, OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1")
    assert "TraceIdRatioBased{0.1}" in out
