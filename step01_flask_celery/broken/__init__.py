"""The circular-import trap, reproduced in four small files.

Run it and read the traceback: ``make step01-broken``
(or ``python -m step01_flask_celery.broken``).

    flask_app.py  imports  views.py       (to register the blueprint)
    views.py      imports  tasks.py       (to send a task)
    tasks.py      imports  celery_app.py  (to decorate the task with @celery.task)
    celery_app.py imports  flask_app.py   (to build Celery from the Flask config)  <- cycle
"""
