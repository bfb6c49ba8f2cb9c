"""The result backend of the web process.

Celery's Redis backend subscribes to a Redis channel for every result it is asked to follow, so
that `.get()` can wait without polling. A GroupResult follows each of its tasks as soon as it
exists (built by freezing a group or a chord, by apply_async, or by GroupResult.restore), and
nothing ever unsubscribes while the web process keeps running (celery#6963): channels and
result objects pile up, and when Redis goes away the subscriber raises instead of the read.
The web process never calls `.get()`: this backend follows nothing; every read goes to Redis.
And it never waits for Redis: when Redis is away, a request gets its 503 within seconds.
"""

from celery.backends.redis import RedisBackend


class ReadOnlyRedisBackend(RedisBackend):
    def __init__(self, *args, url=None, app=None, **kwargs):
        # Named by class (main.py), it still takes its URL from the configuration.
        super().__init__(*args, url=url or app.conf.result_backend, app=app, **kwargs)
        # A request answers at once: a 503 when Redis is away, or silent for 2 s (paused, a
        # network that drops packets). Only the worker waits for it and tries again
        # (result_backend_always_retry, celeryconfig.py): a client can ask again later.
        self.always_retry = False
        self.connparams["socket_timeout"] = 2

    def add_pending_result(self, result, weak=False, start_drainer=True):
        return result
