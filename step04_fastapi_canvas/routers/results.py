"""Results, with the seed's status codes: 200 done, 202 still running, 404 never submitted,
500 only for a failed task (the error in JSON).

Celery calls an unknown id PENDING, and GroupResult.restore() gives None for a group that was
never saved or has expired: both are 404 here, never a 500 or a fake PENDING.
"""

from celery import states
from celery.result import GroupResult
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from step04_fastapi_canvas import workflows
from step04_fastapi_canvas.celery_app import celery_app
from step04_fastapi_canvas.schemas import GroupState, TaskState, errors

router = APIRouter(prefix="/result", tags=["results"])


def describe(task_id: str) -> dict:
    return {"task_id": task_id, **workflows.outcome(celery_app.backend.get_task_meta(task_id))}


def status_code(state: str) -> int:
    if state == states.FAILURE:
        return 500
    return 200 if state in workflows.FINISHED else 202


def answers(model: type, running: str, failed: str) -> dict:
    """The other answers of a result endpoint, for the OpenAPI schema."""
    others = {202: {"model": model, "description": running}}
    return {**others, 500: {"model": model, "description": failed}, **errors(404, 503)}


@router.get(
    "/{task_id}",
    response_model=TaskState,
    responses=answers(TaskState, "Queued or running.", "The task failed: the error is in `error`."),
)
def task_result(task_id: str) -> JSONResponse:
    if not workflows.known(task_id):
        raise HTTPException(404, f"No task with the id {task_id[:64]!r} was ever submitted here.")
    body = describe(task_id)
    return JSONResponse(body, status_code=status_code(body["state"]))


@router.get(
    "/group/{group_id}",
    response_model=GroupState,
    responses=answers(
        GroupState, "Some of its tasks are not done yet.", "One of its tasks failed."
    ),
)
def group_result(group_id: str) -> JSONResponse:
    saved = GroupResult.restore(group_id, app=celery_app)
    if saved is None:  # never saved (or not a group id), or expired after result_expires
        raise HTTPException(404, f"No saved group with the id {group_id[:64]!r}.")
    tasks = [describe(child.id) for child in saved.results]
    done = sum(task["state"] in workflows.FINISHED for task in tasks)
    body = {"group_id": group_id, "completed": done, "total": len(tasks), "tasks": tasks}
    failed = [task["error"] for task in tasks if task["state"] == states.FAILURE]
    if failed:
        return JSONResponse({**body, "state": states.FAILURE, "error": failed[0]}, status_code=500)
    revoked = [task["error"] for task in tasks if task["state"] == states.REVOKED]
    if revoked and done == len(tasks):  # finished, but not with every result
        return JSONResponse({**body, "state": states.REVOKED, "error": revoked[0]})
    if done == len(tasks):
        results = [task.get("result") for task in tasks]
        return JSONResponse({**body, "state": states.SUCCESS, "results": results})
    return JSONResponse({**body, "state": "PENDING"}, status_code=202)
