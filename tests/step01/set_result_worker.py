"""Step 1's worker with one task more, whose result JSON cannot carry: a set.

test_serialization.py starts it as the Procfile starts step 1's worker:
``celery -A tests.step01.set_result_worker worker``. Step 1's own task is registered too.
"""

from celery import shared_task

# Step 1's Celery app and its settings (JSON only): `celery -A` finds it in this module.
from step01_flask_celery.worker import celery_app  # noqa: F401


@shared_task
def tags() -> set[str]:
    """The work is done; then the result must be stored, and JSON has arrays, not sets."""
    return {"new", "vip"}
