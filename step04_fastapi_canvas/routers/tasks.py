"""Cancelling: DELETE /tasks/{task_id} revokes a task that is queued or running."""

from celery.result import AsyncResult
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from step04_fastapi_canvas import workflows
from step04_fastapi_canvas.celery_app import celery_app
from step04_fastapi_canvas.schemas import errors

router = APIRouter(prefix="/tasks", tags=["tasks"])


class Revoking(BaseModel):
    task_id: str
    state: str
    was: str = Field(description="Its state when it was revoked.")
    also_revoked: list[str] = Field(description="The later links of its chain, never to run.")


@router.delete(
    "/{task_id}", status_code=202, response_model=Revoking, responses=errors(404, 409, 503)
)
def revoke(task_id: str) -> JSONResponse:
    if not workflows.known(task_id):
        raise HTTPException(404, f"No task with the id {task_id[:64]!r} was ever submitted here.")
    state = AsyncResult(task_id, app=celery_app).state  # read once: it may change as we look
    if state in workflows.FINISHED:
        raise HTTPException(409, f"Task {task_id} already finished: {state}.")
    # Every worker remembers the id (in its --statedb file too) and drops the message when it
    # comes; terminate=True also kills the pool process that may be running it now, which the
    # prefork pool allows (the solo and threads pools cannot: there the task runs to its end).
    # The first reply is enough (limit=1): the broadcast reached the workers. Waiting the whole
    # second for every reply would let a running task finish before the next revoke is sent.
    replies = celery_app.control.revoke(
        task_id, terminate=True, signal="SIGTERM", reply=True, timeout=1, limit=1
    )
    if not replies:
        raise HTTPException(503, "No worker answered: the task may still run. Try again.")
    # A chain's later links will never run: say so in their results too (Celery does it for a
    # failed link, not for a revoked one).
    later = workflows.after(task_id)
    for link in later:
        celery_app.backend.mark_as_revoked(link, reason="an earlier link was revoked")
    return JSONResponse(
        {"task_id": task_id, "state": "REVOKING", "was": state, "also_revoked": later},
        status_code=202,
    )
