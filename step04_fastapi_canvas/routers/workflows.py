"""Workflows with the numbers in a validated body, and their live state for the canvas page.

POST /workflows/{solo|chain|group|chord}   {"a": 3, "b": 4, "fail": false}
GET  /workflows                             the last 20 submitted, however (curl, the page...)
GET  /workflows/{id}                        the graph, each node's state
GET  /workflows/{id}/events                 the same, pushed as Server-Sent Events
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool
from pydantic_core import PydanticCustomError
from redis.exceptions import RedisError
from sse_starlette.sse import EventSourceResponse

from step04_fastapi_canvas import workflows
from step04_fastapi_canvas.schemas import errors

router = APIRouter(prefix="/workflows", tags=["workflows"])
EVENTS_EVERY = 0.25  # seconds between two looks at the nodes
EVENTS_FOR = 600  # seconds an event stream stays open at most


def a_number(value: object) -> object:
    """JSON numbers only: "3" is not taken for 3 (3.0 is, as JSON Schema's integer allows)."""
    if isinstance(value, str | bool):
        raise PydanticCustomError("json_number", "must be a JSON number, not a string or a boolean")
    return value


Integer = Annotated[int, Field(ge=-1_000_000, le=1_000_000), BeforeValidator(a_number)]


class Numbers(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    a: Integer = Field(description="The first number.")
    b: Integer = Field(description="The second number.")
    fail: StrictBool = Field(
        False,
        description="Make one task raise: the first link of a chain, multiply in a group or a "
        "chord's header, the task itself when solo.",
    )
    task: Literal["add", "multiply"] = Field("add", description="Which task, for solo.")


class Node(BaseModel):
    id: str = Field(description="The task's id: GET /result/{id}, DELETE /tasks/{id}.")
    task: str
    label: str


class Submitted(BaseModel):
    workflow_id: str
    kind: str
    task_id: str | None = Field(description="The last task's id: the result of the whole.")
    group_id: str | None = Field(description="A group's (or a chord header's) saved id.")
    nodes: list[Node]
    edges: list[tuple[str, str]] = Field(description="(from, to): to runs after from.")
    result_url: str
    events_url: str


class Recent(BaseModel):
    workflow_id: str = Field(description="Show it: /canvas?workflow=<this id>.")
    kind: str
    submitted_at: float = Field(description="When, in seconds since 1970-01-01 UTC.")
    tasks: list[str] = Field(description="Each task's label, as the graph has them.")


class RecentList(BaseModel):
    workflows: list[Recent] = Field(description="The newest first.")
    keeps: int = Field(description="How many the list keeps at most.")


# A workflow id is a UUID; anything else gets a 400 (and a UUID never submitted here, a 404).
WorkflowId = Annotated[
    str,
    Path(
        description="A workflow's id, as POST /workflows/{kind} gave it.",
        json_schema_extra={"format": "uuid"},
    ),
]

DESCRIPTIONS = {
    "solo": "One task: add (or multiply, with `task`).",
    "chain": "add(a, b), then sum_multiply(sum, a, b): each link gets the previous result.",
    "group": "add(a, b) and multiply(a, b) side by side; the group's id is saved.",
    "chord": "The group, then combine(results) once both have succeeded.",
}


def submit(kind: str, body: Numbers, response: Response) -> dict:
    workflow = workflows.submit(kind, body.a, body.b, body.fail, body.task)
    result_url = (
        f"/result/{workflow.task_id}" if workflow.task_id else f"/result/group/{workflow.group_id}"
    )
    response.headers["Location"] = f"/workflows/{workflow.id}"
    return {
        **workflow.as_json(),
        "workflow_id": workflow.id,
        "result_url": result_url,
        "events_url": f"/workflows/{workflow.id}/events",
    }


def route(kind: str):
    def endpoint(body: Numbers, response: Response) -> dict:
        return submit(kind, body, response)

    endpoint.__name__ = f"submit_{kind}"
    router.post(
        f"/{kind}",
        status_code=202,
        response_model=Submitted,
        responses=errors(400, 503),
        summary=f"Submit a {kind}",
        description=DESCRIPTIONS[kind],
    )(endpoint)


for _kind in workflows.KINDS:
    route(_kind)


@router.get("", response_model=RecentList, responses=errors(503), summary="Recent workflows")
def recent() -> dict:
    """The last workflows submitted to this app, from any client: the canvas page's list."""
    return {"workflows": workflows.recent(), "keeps": workflows.RECENT}


def snapshot(workflow_id: str) -> dict:
    parsed = workflows.parse_id(workflow_id)
    if parsed is None:
        raise HTTPException(
            400,
            f"{workflow_id[:64]!r} is not a workflow id: one looks like "
            "69a3ab45-1b2c-4d5e-8f90-0123456789ab (POST /workflows/{kind} answers it).",
        )
    workflow = workflows.load(parsed)
    if workflow is None:
        raise HTTPException(
            404,
            f"No workflow with the id {parsed!r}: never submitted to this app, "
            "or expired with its results (result_expires).",
        )
    states = workflows.node_states(workflow)
    finished = all(node["state"] in workflows.FINISHED | {"NOT RUN"} for node in states.values())
    return {**workflow, "states": states, "finished": finished}


@router.get("/{workflow_id}", responses=errors(400, 404, 503))
def show(workflow_id: WorkflowId) -> dict:
    if workflow_id in workflows.KINDS:  # GET on POST /workflows/chord's path: the wrong method
        raise HTTPException(
            405,
            f"POST /workflows/{workflow_id} submits one; GET /workflows/<its id> shows it.",
            headers={"Allow": "POST"},
        )
    return snapshot(workflow_id)


@router.get(
    "/{workflow_id}/events", response_class=EventSourceResponse, responses=errors(400, 404, 503)
)
async def events(workflow_id: WorkflowId, request: Request) -> EventSourceResponse:
    # Redis is read in a thread: the event loop serves other requests meanwhile.
    first = await asyncio.to_thread(snapshot, workflow_id)  # a 404 before the stream starts

    async def stream():
        current, last = first, None
        deadline = time.monotonic() + EVENTS_FOR
        while not await request.is_disconnected():
            text = json.dumps(current)
            if text != last:  # only changes travel
                yield {"event": "state", "data": text}
                last = text
            if current["finished"]:
                yield {"event": "finished", "data": "{}"}
                return
            if time.monotonic() > deadline:
                yield {"event": "timeout", "data": json.dumps({"after": EVENTS_FOR})}
                return
            await asyncio.sleep(EVENTS_EVERY)
            try:
                current = await asyncio.to_thread(snapshot, workflow_id)
            except RedisError as error:  # the client falls back to polling
                yield {"event": "unavailable", "data": json.dumps({"detail": str(error)})}
                return

    return EventSourceResponse(stream())
