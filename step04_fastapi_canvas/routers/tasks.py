"""Cancelling: DELETE /tasks/{task_id} revokes a task that is queued or running."""

from celery import states
from celery.result import AsyncResult
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from step04_fastapi_canvas import workflows
from step04_fastapi_canvas.celery_app import celery_app

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.delete("/{task_id}", status_code=202)
def revoke(task_id: str) -> JSONResponse:
    if not workflows.known(task_id):
        raise HTTPException(404, f"No task with the id {task_id[:64]!r} was ever submitted here.")
    result = AsyncResult(task_id, app=celery_app)
    if result.state in workflows.FINISHED:
        raise HTTPException(409, f"Task {task_id} already finished: {result.state}.")
    # Queued: every worker remembers the id and drops the message when it comes (REVOKED).
    # Running: terminate=True makes its worker kill the pool process that runs it, which the
    # prefork pool allows (the solo and threads pools do not).
    running = result.state in (states.STARTED, "PROGRESS")
    result.revoke(terminate=running, signal="SIGTERM")
    return JSONResponse(
        {"task_id": task_id, "state": "REVOKING", "was": result.state, "terminate": running},
        status_code=202,
    )
