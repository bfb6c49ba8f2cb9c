"""Gunicorn settings for step 2 (read with ``gunicorn -c step02_nginx_gunicorn/gunicorn.conf.py``).

The master process only manages workers; each worker process runs step 1's Flask app and
turns every HTTP request into a WSGI call. Every value can come from the environment.
"""

import multiprocessing
import os

# Only Nginx talks to Gunicorn: loopback locally (a container sets GUNICORN_BIND=0.0.0.0:8002).
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('GUNICORN_PORT', '8002')}"

# Workers: GUNICORN_WORKERS, else this step's choice (Gunicorn's default is 1): one per core
# for parallel Python, plus one to keep a core busy while a worker's threads all wait on I/O.
workers = int(os.environ.get("GUNICORN_WORKERS") or multiprocessing.cpu_count() + 1)
# gthread workers keep Nginx's upstream connections alive; threads overlap the I/O waits.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 75

# A worker that stops answering its master for 30 s is killed and replaced. (With gthread the
# master hears from the worker's main thread, so this does not cut one slow request: Nginx
# does, with a 504 after 35 s.) Workers get 10 s to finish their requests on shutdown.
timeout = 30
graceful_timeout = 10

# Nginx refuses a request line or a header over 4 KB (nginx.conf), so these limits, each at
# Gunicorn's maximum, are never reached: Gunicorn would answer them with an HTML page.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 32768

# One access-log line per request, carrying Nginx's request id and the time spent (microseconds).
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s request_id=%({x-request-id}i)s time_us=%(D)s'
errorlog = "-"
loglevel = "info"
proc_name = "step02-gunicorn"
# Gunicorn's control socket is not used in this step.
control_socket_disable = True
