"""The Celery app of step 4, configured from celeryconfig.py.

celery -A step04_fastapi_canvas.celery_app worker -Q default,default-sum
"""

from celery import Celery
from celery.signals import celeryd_init

celery_app = Celery("step04", include=["step04_fastapi_canvas.tasks.arithmetic"])
celery_app.config_from_object("step04_fastapi_canvas.celeryconfig")


@celeryd_init.connect
def publish_patiently(conf, **kwargs) -> None:
    """In the worker only. The worker publishes too: a chain's next link, a chord's callback.
    With the web's quick retries (celeryconfig.py: a 503 within a second), RabbitMQ away for a
    few seconds fails a chord whose work is done: `ChordError: Callback error`. The worker
    tries ten times, up to 2 s apart, about 17 s in all (README, section 11)."""
    conf.task_publish_retry_policy = {
        "max_retries": 10,
        "interval_start": 0,
        "interval_step": 1,
        "interval_max": 2,
    }
