"""The same scrape on Redis as the broker, and on the embedded default (no server at all)."""

from __future__ import annotations

import uuid

import redis

from tests.step03.conftest import stack03
from tests.support.commands import workshop
from tests.support.services import require

REDIS_DB = 14  # a database of its own on the shared Redis, emptied of this test's keys after


def test_the_same_scrape_with_redis_as_the_broker(tmp_path_factory):
    require("redis", "postgresql")
    url = f"redis://localhost:6379/{REDIS_DB}"
    queue = f"test-{uuid.uuid4().hex[:12]}"
    try:
        with (
            stack03(
                tmp_path_factory, "redis", CELERY_BROKER_URL=url, CELERY_TASK_DEFAULT_QUEUE=queue
            ) as stack,
            stack.client() as client,
        ):
            health = client.get("/health").json()
            assert health["broker"]["url"].startswith("redis://") and not health["embedded"]
            result = stack.scrape(client)["result"]
            assert (result["created"], result["failed"]) == (21, 2)
            assert stack.articles() == 21
            log = (stack.logs / "worker.log").read_text()
            assert f"Connected to redis://:**@localhost:6379/{REDIS_DB}" in log
            # `make check-step03` typed without the variable: /health names the broker.
            elsewhere = {k: v for k, v in stack.env.items() if k != "CELERY_BROKER_URL"}
            done = workshop("check", "step03", "--timeout", "60", env=elsewhere)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "1 Celery worker answers ping" in done.stdout
    finally:
        keys = redis.Redis.from_url(url)
        for key in keys.scan_iter(f"*{queue}*"):
            keys.delete(key)
        keys.close()


def test_the_same_scrape_on_the_embedded_default(tmp_path_factory):
    with (
        stack03(tmp_path_factory, "embedded", database=False, WORKSHOP_MODE="embedded") as stack,
        stack.client() as client,
    ):
        health = client.get("/health").json()
        assert health["embedded"] is True
        assert health["broker"]["url"].startswith("filesystem:")
        assert health["database"]["url"].startswith("sqlite:")
        assert "EMBEDDED DEFAULT IN USE" in stack.log()
        first = stack.scrape(client)["result"]
        again = stack.scrape(client)["result"]
        assert (first["created"], first["failed"]) == (21, 2)
        assert (again["created"], again["updated"]) == (0, 21)
        assert client.get("/api/articles").json()["count"] == 21
        # `make step03` turns DJANGO_DEBUG on (the other tests turn it off): Django's debug
        # pages for the browser, JSON all the same under /api/.
        assert "DEBUG = True" in client.get("/no-such-page/").text
        assert client.get("/api/no-such-thing").json()["error"].startswith("Nothing at")
