"""Step 4: FastAPI + Celery canvas (solo, chain, group, chord) with a live canvas page, under
supervisord (step04_fastapi_canvas/). workshop/README.md explains the fields."""

import uuid

from workshop import checks
from workshop.checks import Context
from workshop.registry import Exercise, Http, Ping, Port, Program, Step, TaskApi, Trip


# Its own checks; the shared ones are in workshop/checks.py.
def unknown_ids_are_404(context: Context) -> None:
    for path in (f"/result/{uuid.uuid4()}", f"/result/group/{uuid.uuid4()}"):
        status = context.client.get(path).status_code
        if status == 404:
            context.report.ok(f"GET {path.rsplit('/', 1)[0]}/<never submitted> → 404")
        else:
            context.report.fail(f"GET {path} answered {status}", "expected 404, not PENDING")


def bad_body_is_422(context: Context) -> None:
    answer = context.client.post("/workflows/chord", json={"a": "three", "b": 10**9})
    problems = answer.json().get("detail", []) if answer.status_code == 422 else []
    if len(problems) == 2:
        context.report.ok("a body with a word for a number and a number too big gets 422")
    else:
        context.report.fail(f"a bad body got {answer.status_code}", "expected 422, two errors")


T = "tests/exercises/test_step04.py::test_"
EXERCISES = (
    Exercise(
        id="04.1",
        title="The sum tasks' own queue",
        minutes=10,
        core=True,
        goal="The seed sends its sum tasks (add, sum_multiply) to a queue of their own, "
        '"default-sum"; here every task goes to the default queue. Route them.',
        files=("step04_fastapi_canvas/celeryconfig.py",),
        tests=(f"{T}04_1_the_sum_tasks_go_to_their_own_queue",),
        hints=(
            "Which setting tells Celery which queue a task's message goes to, by the task's name?",
            'task_routes maps a task\'s full name to options such as {"queue": ...}.',
            'task_routes = {"step04_fastapi_canvas.tasks.arithmetic.add": {"queue": '
            "SUM_QUEUE}, and the same for sum_multiply}.",
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="04.2",
        title="Build the chord",
        minutes=15,
        core=True,
        goal="POST /workflows/chord fails: the chord is not built. Build it in workflows.py: "
        "add and multiply side by side, then combine(results) once both have succeeded; and "
        "its graph (three nodes, an edge from each header task to combine) for the canvas page.",
        files=("step04_fastapi_canvas/workflows.py",),
        tests=(f"{T}04_2_the_chord_runs_its_callback_on_both_results",),
        hints=(
            "A chord is a header (a group) and a body that gets the list of the header's "
            "results. The group kind above does half of it.",
            "chord(header, combine.s()) builds it; freeze() gives the callback's result (its "
            "id) and, as its parent, the header's group result; signature.tasks.tasks are the "
            "header's frozen tasks, signature.body the callback.",
            "signature = chord(header, combine.s().on_error(errback)); result = "
            "signature.freeze(); nodes: the header's two tasks then signature.body; edges from "
            "each to it; Workflow(..., result.id, result.parent.id).",
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="04.3",
        title="Find a group again",
        minutes=10,
        core=True,
        goal="GET /result/group/{group_id} answers 404 for a group just submitted: the workers "
        "store each task's result, never the group's list of its tasks. Save the group when "
        "the workflow is published.",
        files=("step04_fastapi_canvas/workflows.py",),
        tests=(f"{T}04_3_a_group_can_be_found_again_by_its_id",),
        hints=(
            "GroupResult.restore(group_id) reads what GroupResult.save() stored in the result "
            "backend.",
            "apply_async() of a group gives a GroupResult; of a chord, the callback's result, "
            "whose .parent is the header's GroupResult.",
            'After apply_async: for saved in (result, getattr(result, "parent", None)): if '
            "isinstance(saved, GroupResult): saved.save().",
        ),
        checks=(checks.round_trip,),
    ),
    Exercise(
        id="04.4",
        title="Cancel the rest of a chain",
        minutes=15,
        core=False,
        goal="DELETE /tasks/{id} on a chain's first link stops it, and the later links never "
        "run, but their results say PENDING for ever. Mark them REVOKED.",
        files=("step04_fastapi_canvas/routers/tasks.py",),
        tests=(f"{T}04_4_cancelling_a_chain_revokes_its_later_links",),
        hints=(
            "workflows.after(task_id) gives the ids of the links after this one.",
            "The result backend can store a state for any id; it has a method for REVOKED.",
            'for link in later: celery_app.backend.mark_as_revoked(link, reason="an earlier '
            'link was revoked").',
        ),
    ),
)


STEP = Step(
    folder="step04_fastapi_canvas",
    title="FastAPI + Celery canvas: solo, chain, group, chord",
    ports=(Port("fastapi", 8001, "FASTAPI_PORT", "FastAPI"),),
    runner="supervisord",  # reads step04_fastapi_canvas/supervisord.conf
    programs=(
        Program("web", ready=Http("fastapi")),
        Program("worker", ready=Ping("{worker_prefix}canvas")),
    ),
    # The seed's 20 s and 2 s, ten times shorter; the learner's TASK_DELAY_SCALE=1 wins.
    env={"TASK_DELAY_SCALE": "0.1"},
    queue="default",  # the sum tasks go to "default-sum"
    try_lines=(
        "Canvas: http://localhost:{FASTAPI_PORT}/canvas     "
        "API docs: http://localhost:{FASTAPI_PORT}/docs",
        "Logs:   {STEP_LOG_DIR}/",
        "",
        "curl -s localhost:{FASTAPI_PORT}/solo/chain",
        "curl -s localhost:{FASTAPI_PORT}/result/<task_id>",
        "curl -s localhost:{FASTAPI_PORT}/solo/group",
        "curl -s -X POST localhost:{FASTAPI_PORT}/workflows/chord "
        "-H 'Content-Type: application/json' -d '{{\"a\": 3, \"b\": 4}}'",
        "make check-step04{PORT_ARG}   # every hop, one line each",
    ),
    checks=(
        checks.fastapi_answers,
        checks.services_reachable,
        checks.workers_answer_ping,
        checks.round_trip,
        unknown_ids_are_404,
        bad_body_is_422,
    ),
    # POST /workflows/solo with two numbers: one add task.
    task_api=TaskApi(
        targets=("fastapi",),
        submit="/workflows/solo",
        status="/result/{task_id}",
        task="step04_fastapi_canvas.tasks.arithmetic.add",
        # On 3 and 4: the chain is add(3, 4) = 7, then sum_multiply(7, 3, 4) = [3 * 7, 4 * 7]
        # (22 s at TASK_DELAY_SCALE=1); the group add and multiply side by side; the chord the
        # group, then combine.
        trips=(
            Trip("/workflows/chain", {"a": 3, "b": 4}, ("result", [21, 28]), 22, "chain"),
            Trip("/workflows/group", {"a": 3, "b": 4}, ("results", [7, 12]), 20, "group"),
            Trip(
                "/workflows/chord",
                {"a": 3, "b": 4},
                ("result", {"results": [7, 12], "total": 19}),
                20,
                "chord",
            ),
        ),
        done_by="api",
        baseline=False,
        load={"a": 1, "b": 1},
    ),
    exercises=EXERCISES,
)
