"""Django settings of step 3, read from the environment (.env.example lists every variable).

The Celery part is at the end: every CELERY_ setting here is read by project/celery.py.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

from workshop import steps
from workshop.celery_defaults import RELIABILITY
from workshop.settings import celery_services, print_banner

HERE = Path(__file__).resolve().parent
SETTINGS = steps.settings(steps.STEPS["step03"])  # the variables, checked (environment.py)

# PostgreSQL and RabbitMQ when they answer; otherwise SQLite and kombu's filesystem broker
# under .run/, with a banner that says so (WORKSHOP_MODE, workshop/settings.py).
SERVICES = celery_services(default_backend="django-db", database=True)
print_banner(SERVICES)


def secret_key(path: Path) -> str:
    """A random key made once and kept in .run/, when DJANGO_SECRET_KEY is not set."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readable by its owner only, from the moment it exists.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(get_random_secret_key())
    return path.read_text().strip()


SECRET_KEY = SETTINGS.django_secret_key or secret_key(SETTINGS.workshop_run_dir / "django-key")
DEBUG = SETTINGS.django_debug
ALLOWED_HOSTS = SETTINGS.django_allowed_hosts

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Task results in this database: the TaskResult table, and the chord counter.
    "django_celery_results",
    "step03_django_rabbitmq.articles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the CSS of the pages and of the admin, with DEBUG off too.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # JSON errors under /api/, never a traceback (articles/errors.py).
    "step03_django_rabbitmq.articles.errors.JsonErrors",
]

ROOT_URLCONF = "step03_django_rabbitmq.project.urls"
WSGI_APPLICATION = "step03_django_rabbitmq.project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database(url: str) -> dict:
    """DATABASE_URL as Django wants it. SQLite (the embedded default) is shared by the web
    process and the worker's pool: WAL lets them read while one writes, and IMMEDIATE makes
    a writer wait for the lock (up to `timeout` seconds) instead of failing."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        config = dj_database_url.parse(url)
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL;",
        }
        return config
    # One connection per process, kept between requests and checked before it is reused.
    return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)


DATABASES = {"default": database(SERVICES.database.url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = SETTINGS.workshop_run_dir / "static"  # `collectstatic` writes there
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True  # no `collectstatic` needed to run the workshop

# Behind an HTTPS proxy (DJANGO_HTTPS=true): what `manage.py check --deploy` asks for.
if SETTINGS.django_https:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Celery (project/celery.py reads every setting that starts with CELERY_) -------------------

# The workshop's reliability defaults (JSON only, late acks, time limits, quick publish
# retries...), each named the Django way: task_acks_late is CELERY_TASK_ACKS_LATE.
globals().update({f"CELERY_{name.upper()}": value for name, value in RELIABILITY.items()})

CELERY_BROKER_URL = SERVICES.broker.url
CELERY_BROKER_TRANSPORT_OPTIONS = SERVICES.celery_config().get("broker_transport_options", {})
if CELERY_BROKER_URL.startswith("redis"):
    # Redis gives an unacknowledged message to another worker after this many seconds: keep
    # it above the longest task AND the longest retry countdown, or a task runs twice.
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = 3600
CELERY_TASK_DEFAULT_QUEUE = SETTINGS.celery_task_default_queue

# Results in this database (django-celery-results), "django-db" unless CELERY_RESULT_BACKEND
# says otherwise.
CELERY_RESULT_BACKEND = SERVICES.backend.url
# Store the task's name, arguments and worker: without it those columns stay empty.
CELERY_RESULT_EXTENDED = True
# Record STARTED when a worker begins: without it a running task looks PENDING until it ends.
CELERY_TASK_TRACK_STARTED = True

# --- The scraper ---------------------------------------------------------------------------------

DEMO_BLOG_URL = SETTINGS.demo_blog_url or f"http://127.0.0.1:{SETTINGS.demo_blog_port}"
SCRAPER = {
    "DEFAULT_SOURCE": f"{DEMO_BLOG_URL}/feed.xml",
    # Only these are scraped: the demo blog (its feed and its index page) and SCRAPE_SOURCES.
    "ALLOWED_SOURCES": [f"{DEMO_BLOG_URL}/feed.xml", f"{DEMO_BLOG_URL}/", *SETTINGS.scrape_sources],
    "USER_AGENT": "workshop-scraper/1.0 (the step-3 scraper of the async-tasks workshop)",
    "TIMEOUT": 10,  # seconds, for each request
}
