"""The Celery app of step 4, configured from celeryconfig.py.

celery -A step04_fastapi_canvas.celery_app worker -Q default,default-sum
"""

from celery import Celery

celery_app = Celery("step04", include=["step04_fastapi_canvas.tasks.arithmetic"])
celery_app.config_from_object("step04_fastapi_canvas.celeryconfig")
