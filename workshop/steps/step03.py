"""Step 3: Django + Celery + RabbitMQ + PostgreSQL, a scraper that stores articles, under
supervisord (step03_django_rabbitmq/). workshop/README.md explains the fields."""

import httpx

from workshop import checks
from workshop.checks import Context, beside_the_app
from workshop.registry import Http, Ping, Port, Program, Step, TaskApi, Trip


# Its own checks; the shared ones are in workshop/checks.py.
@beside_the_app
def demo_blog_answers(context: Context) -> None:
    port = context.ports["blog"]
    try:
        feed = httpx.get(f"http://127.0.0.1:{port}/feed.xml", timeout=5)
        ok = feed.status_code == 200 and b"<rss" in feed.content
    except httpx.HTTPError:
        ok = False
    if ok:
        context.report.ok(f"the demo blog serves its feed at http://127.0.0.1:{port}/feed.xml")
    else:
        context.report.fail(
            f"the demo blog does not answer on port {port}", f"read {context.log('blog')}"
        )


def articles_listed(context: Context) -> None:
    """Step 3: what the scrapes stored is listed by the API."""
    stored = context.client.get("/api/articles").json()["count"]
    if stored:
        context.report.ok(f"GET /api/articles lists {stored} articles")
    else:
        context.report.fail("GET /api/articles lists no article", "read the worker's log")


STEP = Step(
    folder="step03_django_rabbitmq",
    title="Django + Celery + RabbitMQ + PostgreSQL: a scraper",
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
    queue="scraper",
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
        demo_blog_answers,
        checks.workers_answer_ping,
        checks.round_trip,
        articles_listed,
        checks.unknown_id_is_404,
        checks.bad_json_is_400,
    ),
    # An empty body scrapes the demo blog. A scrape ends with its chord's callback, which only
    # the status URL follows; its task needs a Scrape row first: no baseline straight to the
    # broker.
    task_api=TaskApi(
        targets=("django",),
        submit="/api/scrape",
        task="step03_django_rabbitmq.articles.tasks.scrape",
        trips=(Trip("/api/scrape", label="scrape"),),
        done_by="api",
        baseline=False,
        load={},
    ),
)
