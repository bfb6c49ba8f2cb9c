"""Django settings of step 3, read from the environment (.env.example lists every variable;
`make env STEP=step03` prints what `make step03` gives).

The Celery part is at the end: every CELERY_ setting here is read by project/celery.py.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated variable as a list: "localhost,127.0.0.1"."""
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def env_bool(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() in ("1", "true", "yes", "on")


BASE_DIR = Path(__file__).resolve().parent.parent  # step03_django_rabbitmq/
# Run-time files (the secret key, collected static files): `make step03` says where.
RUN_DIR = Path(os.environ.get("STEP_RUN_DIR", BASE_DIR.parent / ".run" / "step03"))


def secret_key(path: Path) -> str:
    """A random key made once and kept in RUN_DIR, when DJANGO_SECRET_KEY is not set. The web
    process and the worker may start at the same instant: each writes a whole file of its own,
    readable by its owner only, and links it into place; the first link wins, whole."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        mine = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(get_random_secret_key())
        try:
            os.link(mine, path)
        except FileExistsError:
            pass  # another process was first: its key is the one
        finally:
            mine.unlink()
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secret_key(RUN_DIR / "django-key")
# Debug pages and tracebacks in the browser: only while developing (`make step03` turns it on).
DEBUG = env_bool("DJANGO_DEBUG")
# The debug page lists the settings: hide the passwords inside URLs too, and answer a suspicious
# request (a wrong Host header) with its message only (project/debug.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "step03_django_rabbitmq.project.debug.HideSecrets"
DEFAULT_EXCEPTION_REPORTER = "step03_django_rabbitmq.project.debug.ShortForSuspicious"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Task results in this database: the TaskResult table, and the chord counter.
    "django_celery_results",
    # The schedule of Celery beat in this database, editable in the admin.
    "django_celery_beat",
    "step03_django_rabbitmq.articles",
]

MIDDLEWARE = [
    # JSON errors under /api/, never a traceback (articles/errors.py): first, so that it sees
    # the answers of all the others.
    "step03_django_rabbitmq.articles.errors.JsonErrors",
    "django.middleware.security.SecurityMiddleware",
    # Serves the CSS of the pages and of the admin, with DEBUG off too.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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


DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@localhost:5432/postgres")
DATABASES = {"default": database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = RUN_DIR / "static"  # `collectstatic` writes there
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True  # no `collectstatic` needed to run the step

# Behind an HTTPS proxy (DJANGO_HTTPS=true): what `manage.py check --deploy` asks for.
if env_bool("DJANGO_HTTPS"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Celery (project/celery.py reads every setting that starts with CELERY_) -------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded default (no server): kombu keeps each message as a file in this folder.
    _folder = Path(os.environ.get("CELERY_BROKER_FOLDER", RUN_DIR.parent / "broker"))
    (_folder / "messages").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_folder / "messages"),
        "data_folder_out": str(_folder / "messages"),
        "control_folder": str(_folder / "control"),
        "polling_interval": 0.1,
    }
if CELERY_BROKER_URL.startswith("redis"):
    # Redis gives an unacknowledged message to another worker after this many seconds: keep
    # it above the longest task AND the longest retry countdown, or a task runs twice.
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = 3600
# Its own queue: a step-2 worker on the same broker never receives a scrape.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "scraper")
# On RabbitMQ, a quorum queue (README, section 8): replicated and durable, and it counts the
# deliveries of each message. A message returned more than SCRAPER_DELIVERY_LIMIT times (a
# poison task that kills its worker every time) goes to the queue "<queue>.dead", where it
# waits for someone to look at it, instead of coming back for ever. `classic` turns it off.
CELERY_TASK_DEFAULT_QUEUE_TYPE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE_TYPE", "quorum")
DEAD_LETTER_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.dead"
if CELERY_BROKER_URL.startswith("amqp"):
    from kombu import Exchange, Queue

    _quorum = {
        "x-queue-type": "quorum",
        "x-delivery-limit": int(os.environ.get("SCRAPER_DELIVERY_LIMIT", "5")),
        # Dead letters go through the default exchange, to the queue of that name.
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
    }
    CELERY_TASK_QUEUES = [
        Queue(
            CELERY_TASK_DEFAULT_QUEUE,
            # A topic exchange, whatever the queue's type: Celery's native delayed delivery (a
            # retry's countdown kept by RabbitMQ, not by the worker) needs one with quorum
            # queues, and an exchange keeps the type it was made with.
            Exchange(CELERY_TASK_DEFAULT_QUEUE, type="topic"),
            routing_key=CELERY_TASK_DEFAULT_QUEUE,
            queue_arguments=_quorum if CELERY_TASK_DEFAULT_QUEUE_TYPE == "quorum" else None,
        )
    ]
    CELERY_TASK_DEFAULT_EXCHANGE = CELERY_TASK_DEFAULT_QUEUE
    CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
    CELERY_TASK_DEFAULT_ROUTING_KEY = CELERY_TASK_DEFAULT_QUEUE
    # What reaches a quorum queue must not be lost: RabbitMQ confirms each publish.
    CELERY_BROKER_TRANSPORT_OPTIONS["confirm_publish"] = True

# Results in this database (django-celery-results) unless CELERY_RESULT_BACKEND says otherwise.
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "django-db")
# When the database is away for a moment (restarted, a network blink), the worker waits and
# tries again instead of losing a result or a chord's count (README, "When a server blinks";
# with django-db, project/results.py says which errors): up to 30 times, 0.1 s after the first
# failure, then about twice as long each time, at most 2 s between two tries (each pause a
# random part of that): about 27 s in all on average, 55 s at most, under the time limits.
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 30
CELERY_RESULT_BACKEND_BASE_SLEEP_BETWEEN_RETRIES_MS = 100
CELERY_RESULT_BACKEND_MAX_SLEEP_BETWEEN_RETRIES_MS = 2000
# Store the task's name, arguments and worker: without it those columns stay empty.
CELERY_RESULT_EXTENDED = True
# Record STARTED when a worker begins: without it a running task looks PENDING until it ends.
CELERY_TASK_TRACK_STARTED = True

# Reliability, as in step 1 (its README.md, "Reliability defaults", says why each is there).
CELERY_ACCEPT_CONTENT = ["json"]  # a worker never unpickles what came over the network
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True  # acknowledged once done: a worker that dies loses nothing
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The view answers 503 within seconds when the broker is down, instead of hanging.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# A default time limit for every task; the scraper's tasks set their own.
CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT = 45, 60
CELERY_RESULT_EXPIRES = 24 * 3600

# Celery beat (README, section 9) keeps its schedule in this database (django-celery-beat): the
# admin edits it while beat runs. Beat copies the entries below into it each time it starts:
# scrape the demo blog every SCRAPE_EVERY seconds (0: no such entry).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
SCRAPE_EVERY = float(os.environ.get("SCRAPE_EVERY", "600"))
CELERY_BEAT_SCHEDULE = {}
if SCRAPE_EVERY > 0:
    CELERY_BEAT_SCHEDULE["scrape the demo blog"] = {
        "task": "step03_django_rabbitmq.articles.tasks.scheduled_scrape",
        "schedule": SCRAPE_EVERY,
    }

# --- The scraper ---------------------------------------------------------------------------------

DEMO_BLOG_URL = (
    os.environ.get("DEMO_BLOG_URL")
    or f"http://127.0.0.1:{os.environ.get('DEMO_BLOG_PORT', '8004')}"
)
SCRAPER = {
    "DEFAULT_SOURCE": f"{DEMO_BLOG_URL}/feed.xml",
    # Only these are scraped: the demo blog (its feed and its index page) and SCRAPE_SOURCES.
    "ALLOWED_SOURCES": [
        f"{DEMO_BLOG_URL}/feed.xml",
        f"{DEMO_BLOG_URL}/",
        *env_list("SCRAPE_SOURCES"),
    ],
    "USER_AGENT": "workshop-scraper/1.0 (the step-3 scraper of the async-tasks workshop)",
    "TIMEOUT": 10,  # seconds, for each request
}
