"""Step 3: Django + Celery + RabbitMQ + PostgreSQL, a scraper that stores articles, under
supervisord (step03_django_rabbitmq/). workshop/README.md explains the fields."""

from datetime import UTC, datetime

import httpx

from workshop import checks
from workshop.checks import Context, beside_the_app
from workshop.probe import OtherBroker, broker_url_for, celery_app
from workshop.registry import Exercise, Http, Ping, Port, Program, Started, Step, TaskApi, Trip
from workshop.waiting import wait_until


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


def queue_type(context: Context) -> None:
    """Step 3: the queue its worker consumes, as the worker declared it (quorum on RabbitMQ)."""
    try:
        url, options = broker_url_for(context.health, context.env.variables)
    except OtherBroker:
        return  # the ping check said which variable it needs
    app = celery_app(url, broker_transport_options=options, broker_connection_timeout=2)
    try:
        names = context.env.worker_names()
        replies = app.control.inspect(destination=names, timeout=2).active_queues() or {}
    except Exception:  # no answer: the ping check already said so
        replies = {}
    finally:
        app.close()
    for worker, queues in sorted(replies.items()):
        for queue in queues:
            arguments = queue.get("queue_arguments") or {}
            if not url.startswith("amqp"):
                context.report.note(
                    f"{worker} consumes {queue['name']}: queue types (quorum, classic) are "
                    "RabbitMQ's; this broker has one kind"
                )
            elif arguments.get("x-queue-type") == "quorum":
                context.report.ok(
                    f"{worker} consumes {queue['name']}, a quorum queue: delivery limit "
                    f"{arguments.get('x-delivery-limit', 'none')}, dead letters to "
                    f"{arguments.get('x-dead-letter-routing-key', 'nowhere')}"
                )
            else:
                context.report.note(
                    f"{worker} consumes {queue['name']}, a classic queue: a poison message "
                    "comes back for ever (README, section 8)"
                )


def beat_schedule(context: Context) -> None:
    """Step 3: Celery beat started the scheduled scrape it is due to (its schedule: /api/schedule).
    Waited for when it is due within the check's timeout; a note when it is due later."""

    def read() -> tuple[dict | None, dict | None]:
        answer = context.client.get("/api/schedule").json()
        entry = next(
            (e for e in answer["entries"] if e["task"].endswith(".scheduled_scrape")), None
        )
        return entry, answer["last_scheduled_scrape"]

    entry, last = read()
    if entry is None or not entry["enabled"]:
        context.report.note(
            "beat has no scheduled scrape to send (SCRAPE_EVERY=0, or off in the admin)"
        )
        return
    due = datetime.fromisoformat(entry["due_at"]) if entry["due_at"] else None
    now = datetime.now(UTC)
    late = due is not None and (now - due).total_seconds() > 30
    if last and not late:
        at = datetime.fromisoformat(last["requested_at"]).astimezone().strftime("%H:%M:%S")
        context.report.ok(
            f"beat started scrape {last['task_id'][:8]}… at {at} ({entry['schedule']})"
        )
        return
    if due is not None and (due - now).total_seconds() <= context.timeout:
        try:
            wait_until(
                lambda: (found := read()[1]) and found != last,
                context.timeout + 15,
                interval=0.5,
                what="a scheduled scrape",
            )
            context.report.ok(f"beat started a scrape when it was due ({entry['schedule']})")
            return
        except TimeoutError:
            late = True
    if late:
        context.report.fail(
            f"beat did not start the scrape due at {due.astimezone():%H:%M:%S}",
            f"is beat running? Its log: {context.log('beat')}",
        )
    else:
        context.report.note(
            f"beat's next scheduled scrape is due at {due.astimezone():%H:%M:%S} "
            f"({entry['schedule']}): check again after it"
        )


T = "tests/exercises/test_step03.py::test_"
EXERCISES = (
    Exercise(
        id="03.1",
        title="The project's Celery app, everywhere",
        minutes=10,
        core=True,
        goal="`python -m step03_django_rabbitmq.which_app` says the tasks are bound to Celery's "
        "default app, which read none of settings.py: the web process never imports the "
        "project's Celery app. Make Django import it whenever it starts.",
        files=("step03_django_rabbitmq/project/__init__.py",),
        tests=(f"{T}03_1_the_tasks_are_bound_to_the_celery_app_of_the_project",),
        hints=(
            "@shared_task binds a task to the current Celery app when it is used. Which app is "
            "current in the web process, if nothing imported project/celery.py?",
            'Celery\'s "First steps with Django": the project package itself imports the app, '
            "so that anything that loads Django loads it too.",
            "In project/__init__.py: `from .celery import app as celery_app` and "
            '`__all__ = ("celery_app",)`.',
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="03.2",
        title="Try a busy page again",
        minutes=15,
        core=True,
        goal="The demo blog's busy page answers 500 twice, then the page. Make the fetching "
        "tasks retry a TransientError (a 5xx, a 429, the network) a little later each time, "
        "a few times at most; after the last try the page is reported as failed.",
        files=("step03_django_rabbitmq/articles/tasks.py",),
        tests=(
            f"{T}03_2_a_busy_page_is_tried_again",
            f"{T}03_2_a_page_that_stays_busy_is_reported_not_retried_forever",
        ),
        hints=(
            "Celery can retry a task by itself when it raises a given exception: see "
            '"Automatic retry for known exceptions" in its task documentation.',
            "autoretry_for=(scraping.TransientError,), with retry_backoff (seconds, doubled "
            "each time), retry_jitter, and max_retries.",
            'RETRIED = {"autoretry_for": (scraping.TransientError,), "retry_backoff": 1, '
            '"retry_backoff_max": 30, "retry_jitter": True, "max_retries": 4}.',
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="03.3",
        title="Publish after the COMMIT",
        minutes=15,
        core=True,
        goal="The view creates a Scrape row and publishes its task in the same transaction: a "
        "worker that takes the task at once looks for a row that is not committed yet. Publish "
        "the task once the transaction has committed.",
        files=("step03_django_rabbitmq/articles/publish.py",),
        tests=(f"{T}03_3_the_task_is_published_once_its_row_is_committed",),
        hints=(
            "Django can run a function when the current transaction commits: "
            "transaction.on_commit(...).",
            "Celery's Django fixup gives every task of the project's app "
            "apply_async_on_commit() and delay_on_commit() (Celery 5.4 and later).",
            "Replace `scrape.apply_async(` by `scrape.apply_async_on_commit(`, with the same "
            "arguments (it returns no result: the id is the row's, chosen before).",
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="03.4",
        title="One broken page, not a broken scrape",
        minutes=10,
        core=False,
        goal="A page that cannot be read (a 404, a page without a title) fails fetch_article, "
        "and one failed task in a chord's header fails the whole chord: summarize never runs. "
        "Report the page as failed in the task's result instead.",
        files=("step03_django_rabbitmq/articles/tasks.py",),
        tests=(f"{T}03_4_a_page_that_cannot_be_read_is_reported_not_raised",),
        hints=(
            "A chord's callback runs only if every header task succeeded. What does "
            "fetch_article do with a TransientError after its last retry?",
            "failed(url, error, attempts) makes the result of a page that failed.",
            "`except scraping.PageError as error: return failed(url, str(error), attempts)`.",
        ),
        checks=(checks.round_trip,),
    ),
)


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
        Program("beat", ready=Started()),
    ),
    # Debug pages while learning; the learner's DJANGO_DEBUG=false wins.
    # A scheduled scrape every 2 minutes (settings.py's default: 10), to see beat at work.
    env={"DJANGO_DEBUG": "true", "SCRAPE_EVERY": "120"},
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
        queue_type,
        checks.round_trip,
        articles_listed,
        beat_schedule,
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
    exercises=EXERCISES,
)
