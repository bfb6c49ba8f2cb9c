"""Building the four workflows, and reading where each of their tasks is.

Every workflow is frozen first (its task ids are known before anything is published), each id
is recorded as PENDING in the result backend, and its graph (nodes and edges) is kept there too,
under `canvas-<workflow id>`, for the canvas page, and put at the top of the list of recent
workflows (`canvas-recent-<queue>`, the last 20). Then it is published. A recorded id that is
PENDING is queued; an id with no record was never submitted (Celery calls both PENDING), and
`AsyncResult.exists()` tells them apart.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field

from celery import chain, chord, group, states
from celery.backends.redis import RedisBackend
from celery.result import AsyncResult, GroupResult

from step04_fastapi_canvas.celery_app import celery_app
from step04_fastapi_canvas.tasks.arithmetic import (
    add,
    combine,
    multiply,
    report_failure,
    sum_multiply,
)

KINDS = ("solo", "chain", "group", "chord")
FINISHED = {states.SUCCESS, states.FAILURE, states.REVOKED}
RECENT = 20  # the canvas page lists this many workflows, the newest first
LISTING = "LISTING"  # the state of the recent list's record, where it is not in Redis


@dataclass
class Node:
    id: str
    task: str
    label: str


@dataclass
class Workflow:
    id: str
    kind: str
    nodes: list[Node]
    edges: list[tuple[str, str]] = field(default_factory=list)
    task_id: str | None = None  # what GET /result/{task_id} follows: the last task
    group_id: str | None = None  # what GET /result/group/{group_id} follows

    def as_json(self) -> dict:
        return asdict(self)


def graph_key(workflow_id: str) -> str:
    return f"canvas-{workflow_id}"


def node(signature, label: str) -> Node:
    return Node(signature.options["task_id"], signature.task.rsplit(".", 1)[-1], label)


def build(kind: str, a: int, b: int, fail: bool, task: str = "add"):
    """The signature of a workflow, frozen, and its graph."""
    workflow_id = str(uuid.uuid4())
    errback = report_failure.s(workflow_id)
    if kind == "solo":
        one = {"add": add, "multiply": multiply}[task].s(a, b, fail=fail)
        one.freeze()
        one.link_error(errback)
        nodes = [node(one, f"{task}({a}, {b})")]
        return one, Workflow(workflow_id, kind, nodes, [], nodes[0].id)
    if kind == "chain":
        # add's result becomes sum_multiply's first argument: sum_multiply(a + b, a, b).
        signature = chain(add.s(a, b, fail=fail), sum_multiply.s(a, b))
        signature.freeze()  # freezing works on copies: read the ids from the chain's own tasks
        first, second = signature.tasks
        nodes = [node(first, f"add({a}, {b})"), node(second, f"sum_multiply(sum, {a}, {b})")]
        edges = [(nodes[0].id, nodes[1].id)]
        signature.link_error(errback)  # called by whichever link fails
        return signature, Workflow(workflow_id, kind, nodes, edges, nodes[1].id)
    header = [add.s(a, b), multiply.s(a, b, fail=fail)]
    labels = [f"add({a}, {b})", f"multiply({a}, {b})"]
    if kind == "group":
        signature = group(header)
        result = signature.freeze()
        nodes = [node(task, label) for task, label in zip(signature.tasks, labels, strict=True)]
        return signature, Workflow(workflow_id, kind, nodes, [], None, result.id)
    signature = chord(header, combine.s().on_error(errback))
    result = signature.freeze()
    frozen = signature.tasks.tasks  # the chord's header is a group
    nodes = [node(task, label) for task, label in zip(frozen, labels, strict=True)]
    nodes.append(node(signature.body, "combine(results)"))
    edges = [(nodes[0].id, nodes[2].id), (nodes[1].id, nodes[2].id)]
    return signature, Workflow(workflow_id, kind, nodes, edges, result.id, result.parent.id)


def submit(kind: str, a: int, b: int, fail: bool = False, task: str = "add") -> Workflow:
    """Record, then publish. Raises kombu's OperationalError when the broker is down."""
    signature, workflow = build(kind, a, b, fail, task)
    backend = celery_app.backend
    for each in workflow.nodes:
        backend.store_result(each.id, None, states.PENDING)
    backend.store_result(graph_key(workflow.id), workflow.as_json(), states.SUCCESS)
    remember(workflow.id)  # whoever started it (curl, a notebook, the page), the page lists it
    for each in workflow.nodes:  # what runs after each node, for a revoke (routers/tasks.py)
        later = [target for source, target in workflow.edges if source == each.id]
        if later:
            backend.store_result(after_key(each.id), later, states.SUCCESS)
    try:
        result = signature.apply_async()
    except Exception:
        for key in [each.id for each in workflow.nodes] + [graph_key(workflow.id)]:
            AsyncResult(key, app=celery_app).forget()  # never queued: no record says so
        raise
    # A group's id is nothing the workers store: save it (a group, or a chord's header), or
    # GroupResult.restore() finds nothing. The saved group expires with result_expires.
    for saved in (result, getattr(result, "parent", None)):
        if isinstance(saved, GroupResult):
            saved.save()
    return workflow


def known(task_id: str) -> bool:
    """Whether this id was ever recorded as a task's (this app gives every task a UUID; the
    canvas-... and started-... records beside them are not tasks)."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        return False
    return AsyncResult(task_id, app=celery_app).exists()


def parse_id(workflow_id: str) -> str | None:
    """The workflow id in its usual form (this app gives each a UUID), or None: not an id."""
    try:
        return str(uuid.UUID(workflow_id))
    except ValueError:
        return None


def recent_key() -> str:
    # One list per app (its queue's name): two copies of step 4 on one Redis keep their own.
    return f"canvas-recent-{celery_app.conf.task_default_queue}"


_listing = threading.Lock()


def remember(workflow_id: str) -> None:
    """Put the workflow at the top of the recent list, which keeps the last RECENT and expires
    with the results (result_expires)."""
    backend, now = celery_app.backend, time.time()
    if isinstance(backend, RedisBackend):
        # A sorted set, by time, changed in one transaction (MULTI/EXEC): two workflows
        # submitted at the same moment are both listed, and the list never grows past RECENT.
        with backend.client.pipeline() as redis:
            redis.zadd(recent_key(), {workflow_id: now})
            redis.zremrangebyrank(recent_key(), 0, -RECENT - 1)
            if backend.expires:  # None: results are kept for ever, and so is the list
                redis.expire(recent_key(), backend.expires)
            redis.execute()
        return
    # Elsewhere (SQLite, in the embedded default) one record, read then written again: the lock
    # keeps the requests of this one web process from writing over each other. Its state is
    # one of its own: a backend ignores every write to a record after its SUCCESS.
    with _listing:
        listed = [entry for entry in recorded() if entry[0] != workflow_id]
        backend.store_result(recent_key(), [[workflow_id, now], *listed][:RECENT], LISTING)


def recorded() -> list[tuple[str, float]]:
    """The recent list as stored: (workflow id, when it was submitted), the newest first."""
    backend = celery_app.backend
    if isinstance(backend, RedisBackend):
        found = backend.client.zrevrange(recent_key(), 0, RECENT - 1, withscores=True)
        return [(workflow_id.decode(), when) for workflow_id, when in found]
    meta = backend.get_task_meta(recent_key())
    return [tuple(entry) for entry in meta["result"]] if meta["status"] == LISTING else []


def recent() -> list[dict]:
    """The recent workflows, the newest first, each with its kind and tasks. One whose graph is
    gone (expired, or never published: the broker was down) is left out."""
    found = []
    for workflow_id, when in recorded():
        meta = celery_app.backend.get_task_meta(graph_key(workflow_id))
        if meta["status"] != states.SUCCESS:
            continue
        graph = meta["result"]
        found.append(
            {
                "workflow_id": workflow_id,
                "kind": graph["kind"],
                "submitted_at": when,
                "tasks": [each["label"] for each in graph["nodes"]],
            }
        )
    return found


def load(workflow_id: str) -> dict | None:
    result = AsyncResult(graph_key(workflow_id), app=celery_app)
    return result.result if result.exists() and result.state == states.SUCCESS else None


def started_key(task_id: str) -> str:
    return f"started-{task_id}"


def after_key(task_id: str) -> str:
    return f"after-{task_id}"


def after(task_id: str) -> list[str]:
    """The nodes that run after this one (the rest of a chain, a chord's callback), and theirs."""
    found, todo = [], [task_id]
    while todo:
        meta = celery_app.backend.get_task_meta(after_key(todo.pop()))
        later = meta["result"] if meta["status"] == states.SUCCESS else []
        found += later
        todo += later
    return found


def outcome(meta: dict) -> dict:
    """A task's state and what goes with it (result, error or progress), from ONE read of the
    result backend: AsyncResult.state and .info each read again, and a task may change state
    in between."""
    state, value = meta["status"], meta.get("result")
    found = {"state": state}
    if state == states.SUCCESS:
        found["result"] = value
    elif state in (states.FAILURE, states.REVOKED):
        found["error"] = f"{type(value).__name__}: {value}" if value else state
    elif state == "PROGRESS" and isinstance(value, dict):
        found["progress"] = value
    return found


def node_states(workflow: dict) -> dict[str, dict]:
    """Each node's state, times, result or error; a node after a failed one never runs."""
    found = {}
    backend = celery_app.backend
    for each in workflow["nodes"]:
        meta = backend.get_task_meta(each["id"])
        info = outcome(meta)
        state = info["state"]
        started = backend.get_task_meta(started_key(each["id"]))
        if started["status"] == states.SUCCESS:
            info["started_at"] = started["result"]
        done = meta.get("date_done")
        if state in FINISHED and done:
            done = datetime.datetime.fromisoformat(done) if isinstance(done, str) else done
            if done.tzinfo is None:
                done = done.replace(tzinfo=datetime.UTC)
            info["finished_at"] = done.timestamp()
        found[each["id"]] = info
    # After a failed link, Celery marks the rest of a chain FAILURE with the same error: on the
    # graph, a node that never started after a failed one is "NOT RUN".
    for source, target in workflow["edges"]:
        failed = found[source]["state"] in (states.FAILURE, states.REVOKED, "NOT RUN")
        never_started = "started_at" not in found[target]
        if failed and never_started and found[target]["state"] in (states.PENDING, states.FAILURE):
            found[target]["state"] = "NOT RUN"
    return found
