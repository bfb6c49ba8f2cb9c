"""Cancelling: DELETE /tasks/{task_id} revokes a task that is queued or running."""

from celery import states
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
    terminate: bool = Field(description="True when its pool process was killed (it ran).")


@router.delete(
    "/{task_id}", status_code=202, response_model=Revoking, responses=errors(404, 409, 503)
)
def revoke(task_id: str) -> JSONResponse:
    if not workflows.known(task_id):
        raise HTTPException(404, f"No task with the id {task_id[:64]!r} was ever submitted here.")
    result = AsyncResult(task_id, app=celery_app)
    state = result.state  # read once: it may change while we look
    if state in workflows.FINISHED:
        raise HTTPException(409, f"Task {task_id} already finished: {state}.")
    # Queued: every worker remembers the id and drops the message when it comes (REVOKED).
    # Running: terminate=True makes its worker kill the pool process that runs it, which the
    # prefork pool allows (the solo and threads pools do not).
    running = state in (states.STARTED, "PROGRESS")
    result.revoke(terminate=running, signal="SIGTERM")
    return JSONResponse(
        {"task_id": task_id, "state": "REVOKING", "was": state, "terminate": running},
        status_code=202,
    )
