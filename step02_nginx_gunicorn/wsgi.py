"""The WSGI entry point Gunicorn loads: ``gunicorn -c step02_nginx_gunicorn/gunicorn.conf.py
step02_nginx_gunicorn.wsgi:app``. It wraps step 1's app without changing a line of it."""

from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from werkzeug.middleware.proxy_fix import ProxyFix

from step01_flask_celery.app import create_app
from step02_nginx_gunicorn import results, tracing

if tracing.enabled():
    tracing.setup("gunicorn")

app = create_app()
celery_app = app.extensions["celery"]
# Gunicorn's threads share one result backend (by default Celery makes one per thread), with
# its pool of connections.
celery_app.conf.result_backend_thread_safe = True
results.web_session_options(celery_app)
results.pool_connections(celery_app.backend)
results.follow_nothing(celery_app.backend)
results.write_new_records_once(celery_app.backend)

if tracing.enabled():
    # Spans for each request, each publish and each result write; the trace continues the one
    # Nginx started.
    tracing.trace_result_stores(celery_app.backend)
    FlaskInstrumentor().instrument_app(app)
    CeleryInstrumentor().instrument()

# Nginx is the one proxy in front: trust its X-Forwarded-For/-Proto/-Host, nothing more.
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
