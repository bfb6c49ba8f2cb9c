"""The result backend in the web processes. Step 2's results are in Redis, as in step 1
(PostgreSQL keeps the task history instead: history.py). A learner may still choose Celery's
SQL result backend, for example CELERY_RESULT_BACKEND=db+postgresql://postgres@localhost/postgres.
"""

from celery import states


def follow_nothing(backend) -> None:
    """Do not subscribe to a Redis channel for every task this process publishes.

    Celery's Redis backend subscribes to each task's channel at apply_async, so that a later
    `.get()` can wait without polling. The web process never calls `.get()`, so the channels
    are never read nor left (celery#6963): they pile up, with every result Redis publishes to
    them, and each SUBSCRIBE costs the request a round trip.
    """
    if hasattr(backend, "result_consumer"):  # the Redis backend
        backend.on_task_call = lambda producer, task_id: None


def pool_connections(backend) -> None:
    """Let Celery's SQL result backend keep a connection pool in this process.

    Celery pools database connections only in the pool processes it forks itself; anywhere
    else (a Gunicorn worker, a script) it opens a new connection for every call, about 7 ms
    each here. A Gunicorn worker lives as long as a Celery pool process, so it should pool too.
    """
    manager = getattr(backend, "session_manager", None)
    if manager is not None:
        manager._after_fork()  # what Celery itself calls in the processes it forks


def web_session_options(celery_app) -> None:
    """The web process writes only the PENDING record of each task: let PostgreSQL confirm that
    write before it reaches the disk (synchronous_commit=off, for this process's sessions).

    A database crash could forget a PENDING record written in the last fraction of a second;
    the message itself is safe in RabbitMQ, and the worker's STARTED/SUCCESS writes stay fully
    durable. In exchange, no request waits for a disk flush.
    """
    if celery_app.conf.result_backend.startswith("db+postgresql"):
        options = dict(celery_app.conf.database_engine_options or {})
        options["connect_args"] = {"options": "-c synchronous_commit=off"}
        celery_app.conf.database_engine_options = options


def write_new_records_once(backend) -> None:
    """Write each new task's PENDING record with one Redis command instead of five.

    Celery's `store_result` reads a task's record before it writes one, so that a late write
    never replaces a SUCCESS, then writes it in a transaction that also publishes it
    (`_store_result` in celery/backends/base.py and `_set` in celery/backends/redis.py, Celery
    5.7): GET, then MULTI, SETEX, PUBLISH, EXEC. The web process writes only the PENDING record
    of an id it has just made: there is nothing to read yet, and nobody listens for it. One SET
    with an expiry does the same, with Celery's retry policy.
    """
    cls = type(backend)
    if not hasattr(backend, "result_consumer") or getattr(cls, "_writes_once", False):
        return  # not the Redis backend, or done already
    original = cls.store_result

    def store_result(self, task_id, result, state, *args, **kwargs):
        if state != states.PENDING or result is not None or args or kwargs:
            return original(self, task_id, result, state, *args, **kwargs)
        record = {"status": state, "result": None, "traceback": None, "children": []}
        record |= {"date_done": None, "task_id": task_id}
        key, value = self.get_key_for_task(task_id), self.encode(record)
        self.ensure(self.client.set, (key, value, self.expires))  # SET key value EX seconds
        return result

    cls.store_result = store_result
    cls._writes_once = True
