"""Results, with the seed's status codes: 200 done, 202 still running, 404 never submitted,
500 only for a failed task (the error in JSON).

Celery calls an unknown id PENDING, and GroupResult.restore() gives None for a group that was
never saved or has expired: both are 404 here, never a 500 or a fake PENDING.
"""

from celery import states
from celery.result import AsyncResult, GroupResult
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from step04_fastapi_canvas import workflows
from step04_fastapi_canvas.celery_app import celery_app

router = APIRouter(prefix="/result", tags=["results"])


def describe(result: AsyncResult) -> dict:
    body = {"task_id": result.id, "state": result.state}
    if result.state == states.SUCCESS:
        body["result"] = result.result
    elif result.state in (states.FAILURE, states.REVOKED):
        body["error"] = f"{type(result.result).__name__}: {result.result}"
    elif result.state == "PROGRESS" and isinstance(result.info, dict):
        body["progress"] = result.info
    return body


def status_code(state: str) -> int:
    if state == states.FAILURE:
        return 500
    return 200 if state in workflows.FINISHED else 202


@router.get("/{task_id}")
def task_result(task_id: str) -> JSONResponse:
    if not workflows.known(task_id):
        raise HTTPException(404, f"No task with the id {task_id[:64]!r} was ever submitted here.")
    result = AsyncResult(task_id, app=celery_app)
    return JSONResponse(describe(result), status_code=status_code(result.state))


@router.get("/group/{group_id}")
def group_result(group_id: str) -> JSONResponse:
    saved = GroupResult.restore(group_id, app=celery_app)
    if saved is None:  # never saved (or not a group id), or expired after result_expires
        raise HTTPException(404, f"No saved group with the id {group_id[:64]!r}.")
    tasks = [describe(child) for child in saved.results]
    done = sum(task["state"] in workflows.FINISHED for task in tasks)
    body = {"group_id": group_id, "completed": done, "total": len(tasks), "tasks": tasks}
    if saved.failed():
        return JSONResponse({**body, "state": states.FAILURE}, status_code=500)
    if saved.ready():
        results = [task.get("result") for task in tasks]
        return JSONResponse({**body, "state": states.SUCCESS, "results": results})
    return JSONResponse({**body, "state": "PENDING"}, status_code=202)
