# One image for every step of the workshop: its code and its pinned dependencies.
# The base is an argument: CI, which reaches no image registry, builds on a local stand-in
# (workshop/containers/, `make test-docker`); everyone else gets the official image.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WORKSHOP_RUN_DIR=/tmp/workshop-run \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /workshop

# A virtualenv, the same on any base: Debian's own Python refuses a system-wide pip install
# (PEP 668), and `python`, `celery`, `gunicorn`... are the venv's on every base.
RUN python3 -m venv /opt/venv

# Dependencies first: this layer is rebuilt only when they change. What the steps need (the
# dependencies in pyproject.toml, at constraints.txt's versions), not the tests' tools.
COPY constraints.txt pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > requirements.txt \
    && pip install --constraint constraints.txt --requirement requirements.txt

COPY README.md ./
COPY workshop ./workshop
COPY step01_flask_celery ./step01_flask_celery
COPY step02_nginx_gunicorn ./step02_nginx_gunicorn
COPY step03_django_rabbitmq ./step03_django_rabbitmq
COPY step04_fastapi_canvas ./step04_fastapi_canvas
# Never run the app or a worker as root (Celery warns about it, rightly).
RUN pip install --no-deps --editable . \
    && useradd --create-home --uid 10001 workshop
USER 10001

EXPOSE 8000
CMD ["flask", "--app", "step01_flask_celery.app", "run", "--host", "0.0.0.0", "--port", "8000"]
