"""The seed's endpoints, answering as its README says (its curl commands work unchanged).

GET /solo/add     one add task (20 s x TASK_DELAY_SCALE)
GET /solo/chain   add, then sum_multiply with the sum
GET /solo/group   add and multiply side by side
"""

import random

from fastapi import APIRouter

from step04_fastapi_canvas import workflows
from step04_fastapi_canvas.schemas import errors

router = APIRouter(tags=["seed"], responses=errors(503))


def submitted(kind: str) -> tuple[int, int, workflows.Workflow]:
    """Two random numbers, and the workflow of this kind submitted on them."""
    a, b = random.randint(1, 100), random.randint(1, 100)  # noqa: S311 (not a secret)
    return a, b, workflows.submit(kind, a, b)


@router.get("/")
def index() -> dict:
    return {
        "message": "FastAPI + Celery canvas (step 4): the API is at /docs, the canvas at /canvas",
        "status": "ok",
    }


@router.get("/solo/add")
def solo_add() -> dict:
    a, b, workflow = submitted("solo")
    return {
        "message": f"FastAPI : a={a}, b={b} Published to the queue",
        "task_id": workflow.task_id,
    }


@router.get("/solo/chain")
def solo_chain() -> dict:
    _, _, workflow = submitted("chain")
    # The chain's id is its last task's: its result is the chain's result.
    return {"message": "Chain task result", "task_id": workflow.task_id, "status_code": 200}


@router.get("/solo/group")
def solo_group() -> dict:
    a, b, workflow = submitted("group")
    return {
        "message": f"Group task submitted : a = {a}, b = {b}",
        "group_id": workflow.group_id,
        "individual_tasks": [each.id for each in workflow.nodes],
        "check_result_url": f"/result/group/{workflow.group_id}",
    }
