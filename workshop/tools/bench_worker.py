"""Step 2's Celery app for `make bench`'s workers, with acks late or early (BENCH_ACKS_LATE):
the one setting the bench changes that has no command-line option.

``celery -A workshop.tools.bench_worker worker ...``
"""

from celery.utils.imports import symbol_by_name

from workshop import steps
from workshop.settings import Settings

celery_app = symbol_by_name(steps.STEPS["step02"].celery_app)
celery_app.conf.task_acks_late = Settings().bench_acks_late
