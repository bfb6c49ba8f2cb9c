# One image for every step of the workshop: its code and its pinned dependencies.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WORKSHOP_RUN_DIR=/tmp/workshop-run

WORKDIR /workshop

# Dependencies first: this layer is rebuilt only when the pins change.
COPY constraints.txt ./
RUN pip install --requirement constraints.txt

COPY pyproject.toml README.md ./
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
