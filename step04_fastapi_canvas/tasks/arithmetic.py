"""The seed's three tasks, a chord callback and an errback.

    add(a, b)                20 s  (x TASK_DELAY_SCALE), reports PROGRESS every tenth
    multiply(a, b)            2 s
    sum_multiply(total, a, b) 2 s  each number multiplied by the sum: [a * total, b * total]

Every task takes `fail=True` to raise on purpose: see what a chain and a chord do with it.
"""

from __future__ import annotations

import time

from celery import Task, states
from celery.utils.log import get_task_logger

from step04_fastapi_canvas.celery_app import celery_app
from step04_fastapi_canvas.settings import get_settings

log = get_task_logger(__name__)


class FailedOnPurpose(Exception):
    """Raised by a task called with fail=True."""


class TimedTask(Task):
    """Records when the task started, for the canvas page's timings: as a small result of its
    own, `started-<task id>`, since the task's own result replaces its STARTED state."""

    def before_start(self, task_id, args, kwargs):
        self.backend.store_result(f"started-{task_id}", time.time(), states.SUCCESS)


def work(seconds: float, fail: bool, name: str) -> None:
    time.sleep(seconds * get_settings().task_delay_scale)
    if fail:
        raise FailedOnPurpose(f"{name} failed on purpose (fail=true)")


@celery_app.task(bind=True, base=TimedTask)
def add(self, a: int, b: int, fail: bool = False) -> int:
    """The long one: 20 s, in ten steps, each reported as PROGRESS."""
    step = 2.0 * get_settings().task_delay_scale
    for done in range(1, 11):
        time.sleep(step)
        self.update_state(state="PROGRESS", meta={"done": done, "total": 10})
    if fail:
        raise FailedOnPurpose("add failed on purpose (fail=true)")
    return a + b


@celery_app.task(base=TimedTask)
def multiply(a: int, b: int, fail: bool = False) -> int:
    work(2, fail, "multiply")
    return a * b


@celery_app.task(base=TimedTask)
def sum_multiply(total: int, a: int, b: int, fail: bool = False) -> list[int]:
    work(2, fail, "sum_multiply")
    return [a * total, b * total]


@celery_app.task(base=TimedTask)
def combine(results: list) -> dict:
    """A chord's callback: it runs once every header task has succeeded, with their results."""
    numbers = [n for result in results for n in (result if isinstance(result, list) else [result])]
    return {"results": results, "total": sum(numbers)}


@celery_app.task
def report_failure(request, exc, traceback, workflow_id: str) -> None:
    """An errback (link_error): called in the worker when a task of the workflow fails."""
    log.warning("workflow %s: task %s failed: %r", workflow_id, request.id, exc)
