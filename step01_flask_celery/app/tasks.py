"""The task. It imports nothing from the app: @shared_task finds the Celery app at run time."""

import math
import time

from celery import shared_task
from flask import current_app


@shared_task(bind=True)
def process_data(self, payload: dict, seconds: float, fail: bool = False) -> dict:
    """Pretend to work for `seconds`, reporting progress four times a second."""
    started = time.time()
    steps = max(1, math.ceil(seconds * 4))
    for done in range(1, steps + 1):
        time.sleep(seconds / steps)  # the "work" of this demo task
        self.update_state(
            state="PROGRESS",
            meta={"percent": round(100 * done / steps), "done": done, "total": steps},
        )
    if fail:
        raise ValueError("the request asked this task to fail")
    return {
        "worker": self.request.hostname,
        # current_app works because FlaskTask runs us inside the app context.
        "app": current_app.name,
        "seconds": seconds,
        "keys": sorted(payload),
        "started_at": started,
        "finished_at": time.time(),
    }
