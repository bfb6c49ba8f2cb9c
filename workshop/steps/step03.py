"""Step 3: Django + Celery + RabbitMQ + PostgreSQL, a scraper that stores articles, under
supervisord (step03_django_rabbitmq/). workshop/README.md explains the fields."""

from dataclasses import dataclass

from workshop import checks
from workshop.registry import Http, Ping, Port, Program, Step, TaskApi


@dataclass(frozen=True)
class ScrapeApi(TaskApi):
    """POST /api/scrape with an empty body scrapes the demo blog."""

    def body(self, seconds: float, number: int) -> dict:
        return {}


STEP = Step(
    name="step03",
    title="Django + Celery + RabbitMQ + PostgreSQL: a scraper",
    folder="step03_django_rabbitmq",
    ports=(
        Port("django", 8003, "DJANGO_PORT", "Django"),
        Port("blog", 8004, "DEMO_BLOG_PORT", "the demo blog"),
    ),
    runner="supervisord",  # reads step03_django_rabbitmq/supervisord.conf
    programs=(
        Program("blog", ready=Http("blog")),
        Program("web", ready=Http("django")),
        Program("worker", ready=Ping("{worker_prefix}scraper")),
    ),
    # Debug pages while learning; the learner's DJANGO_DEBUG=false wins.
    env={"DJANGO_DEBUG": "true"},
    result_backend="django-db",  # django-celery-results, in the step's database
    database=True,
    before=("python step03_django_rabbitmq/manage.py migrate --noinput",),
    settings="step03_django_rabbitmq.project.environment:Step03Settings",
    try_lines=(
        "Articles:  http://localhost:{DJANGO_PORT}/          "
        "Tasks: http://localhost:{DJANGO_PORT}/tasks/",
        "Demo blog: http://localhost:{DEMO_BLOG_PORT}/          "
        "Admin: http://localhost:{DJANGO_PORT}/admin/",
        "Logs:      {STEP_LOG_DIR}/",
        "",
        "curl -s -X POST localhost:{DJANGO_PORT}/api/scrape",
        "curl -s localhost:{DJANGO_PORT}/api/tasks/<task_id>",
        "curl -s 'localhost:{DJANGO_PORT}/api/articles?q=celery'",
        "make check-step03{PORT_ARG}   # every hop, one line each",
    ),
    checks=(
        checks.django_answers,
        checks.services_reachable,
        checks.demo_blog_answers,
        checks.workers_answer_ping,
        checks.scrape_round_trip,
        checks.unknown_id_is_404,
        checks.bad_json_is_400,
    ),
    celery_app="step03_django_rabbitmq.project:celery_app",
    task_api=ScrapeApi(
        targets=("django",),
        submit="/api/scrape",
        task="step03_django_rabbitmq.articles.tasks.scrape",
        # A scrape ends with its chord's callback, which only the status URL follows; and
        # its task needs a Scrape row first, so it cannot be sent straight to the broker.
        done_by="api",
        baseline=False,
    ),
)
