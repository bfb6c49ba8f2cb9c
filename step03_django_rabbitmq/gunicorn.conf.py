"""Gunicorn settings for step 3's Django site (``gunicorn -c step03_django_rabbitmq/gunicorn.conf.py
step03_django_rabbitmq.project.wsgi``), what `make step03` runs. Django's development server
(`manage.py runserver`) is for a quick look only: Django's documentation says not to use it in
production, it copies your whole environment into every request, and it answers malformed
requests with HTML. Every value can come from the environment.
"""

import os
import socket

from gunicorn import util

bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('DJANGO_PORT', '8003')}"
# Two processes of four threads: the pages wait on PostgreSQL and RabbitMQ, not on the CPU.
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 10

# Gunicorn refuses a request it cannot read before Django sees it: a request line over 4094
# bytes, more than 100 headers, a header over 8190 bytes, a Content-Length that is not a number.
# These are its defaults, written out so that you see them.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

accesslog = "-"
errorlog = "-"
loglevel = "info"
proc_name = "step03-gunicorn"
control_socket_disable = True


def json_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """Gunicorn answers those refused requests itself, with a small HTML page
    (gunicorn.util.write_error). This API answers JSON whatever goes wrong, so this function
    takes its place: the same status, {"error": ...} as the body, the connection closed.
    (Behind a proxy, the proxy can do it instead, as step 2's Nginx does with error_page.)"""
    body = f'{{"error": "{reason}: the server could not read this request."}}'.encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = json_error
