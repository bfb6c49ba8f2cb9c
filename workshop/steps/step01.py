"""Step 1: Flask + Celery, two processes from a Procfile (step01_flask_celery/)."""

from workshop import checks
from workshop.registry import Exercise, Http, Ping, Port, Program, Step, TaskApi

T = "tests/exercises/test_step01.py::test_"
EXERCISES = (
    Exercise(
        id="01.1",
        title="Break the circle",
        minutes=15,
        core=True,
        goal="app/tasks.py imports the app to decorate its task, and the app imports the views, "
        "which import the tasks: the circle of `make step01-broken`, in the real app. Give the "
        "task to the app's Celery without importing anything from the app.",
        files=("step01_flask_celery/app/tasks.py",),
        tests=(
            f"{T}01_1_the_app_starts",
            f"{T}01_1_a_request_publishes_through_the_celery_of_the_app",
        ),
        hints=(
            "Run `make step01`: the traceback's last lines name the module that imports the app "
            "while the app is still importing it.",
            "A task does not need its Celery app when it is defined: celery.shared_task "
            "registers it with every app, and it runs on the current one (celery_init_app makes "
            "the app's Celery the default).",
            "`from celery import shared_task`, then `@shared_task(bind=True)` on the task, and "
            "no import from step01_flask_celery.app.",
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="01.2",
        title="Tasks inside the app's context",
        minutes=10,
        core=True,
        goal='The task reads current_app, and fails in the worker with "Working outside of '
        "application context\". Make every task of the app's Celery run inside the app's "
        "context, once for all of them.",
        files=("step01_flask_celery/app/celery_app.py",),
        tests=(f"{T}01_2_a_task_runs_inside_the_app_context",),
        hints=(
            "Where does a Celery task run its body? In its class's __call__: every task of an "
            "app is an instance of the app's task class.",
            "Celery(..., task_cls=SomeTask) makes SomeTask the base of every task of the app.",
            "A class FlaskTask(Task) whose __call__ runs `self.run(*args, **kwargs)` inside "
            "`with app.app_context():`, and `Celery(app.name, task_cls=FlaskTask)`.",
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="01.3",
        title="Record the task before publishing",
        minutes=10,
        core=True,
        goal='To Celery, PENDING also means "I never heard of this id". Make GET tell a task '
        "that is queued (202, PENDING) from an id that was never submitted (404): record the "
        "id in the result backend before the view publishes the task.",
        files=("step01_flask_celery/app/views.py",),
        tests=(
            f"{T}01_3_a_task_just_sent_is_queued_not_unknown",
            f"{T}01_3_an_id_never_sent_is_404",
        ),
        hints=(
            "task_status() asks `result.exists()`: it is True once the result backend holds "
            "anything for the id. What could the view store, before publishing?",
            "The result backend can store a state for any id: "
            "`backend.store_result(task_id, result, state)`.",
            "Before `apply_async`: `result.backend.store_result(task_id, None, states.PENDING)`.",
        ),
        checks=(checks.round_trip, checks.unknown_id_is_404),
    ),
    Exercise(
        id="01.4",
        title="Report the progress",
        minutes=15,
        core=False,
        goal="A client polling a long task sees STARTED, then nothing until SUCCESS. Make the "
        'task report its progress as it works: a state PROGRESS with "percent" (0 to 100), '
        '"done" and "total", which GET /api/tasks/<id> shows as "progress".',
        files=("step01_flask_celery/app/tasks.py",),
        tests=(f"{T}01_4_the_task_reports_its_progress",),
        hints=(
            "A bound task (bind=True) has self: self.update_state() stores a state of your "
            "choice for the running task.",
            "Cut the sleep into steps; after each, "
            '`self.update_state(state="PROGRESS", meta={...})`.',
            "steps = max(1, math.ceil(seconds * 4)); for done in 1..steps: sleep(seconds / "
            'steps), then update_state with meta={"percent": round(100 * done / steps), '
            '"done": done, "total": steps}.',
        ),
    ),
)

STEP = Step(
    folder="step01_flask_celery",
    title="Flask + Celery",
    ports=(Port("flask", 8000, "PORT", "Flask"),),
    runner="honcho",  # reads step01_flask_celery/Procfile
    programs=(
        Program("web", ready=Http("flask")),
        Program("worker", ready=Ping("{worker_name}")),
    ),
    try_lines=(
        "curl -s -X POST localhost:{PORT}/api/process_data "
        "-H 'Content-Type: application/json' -d '{{\"seconds\": 2}}'",
        "curl -s localhost:{PORT}/api/tasks/<task_id>",
        "curl -s localhost:{PORT}/health",
        "make check-step01{PORT_ARG}   # verifies every hop",
    ),
    checks=(
        checks.flask_answers,
        checks.services_reachable,
        checks.workers_answer_ping,
        checks.round_trip,
        checks.unknown_id_is_404,
        checks.bad_json_is_400,
    ),
    task_api=TaskApi(targets=("flask",)),
    exercises=EXERCISES,
)
