"""Hostile requests against step 1's real processes (Flask's development server, RabbitMQ):
every answer a 4xx, JSON from the app, no traceback, no setting and no secret, none slower
than 5 s, and no task queued by a refused request."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx

from tests.support import hostile
from tests.support.services import require

ENDPOINTS = hostile.Endpoints(
    get=("/", f"/api/tasks/{uuid.UUID(int=1)}", "/health"),
    post={"/api/process_data": b'{"seconds": 0}'},
    api=("/",),  # the whole app is the API
    # The development server refuses what it cannot parse (more than 100 headers) itself, with
    # an HTML page: still a 4xx, no traceback. Step 2's Nginx answers those with JSON.
    server_json=False,
    # It does not refuse a request with two different Content-Length headers: it waits for the
    # longer body. Another reason to put Nginx in front of an app server (step 2).
    skip=("two Content-Lengths",),
)


def test_hostile_requests_get_clear_refusals_and_queue_nothing(stacks):
    require("rabbitmq", "redis")
    stack = stacks.start("services", worker=False)  # nothing consumes: every task is counted
    broker = stack.env["CELERY_BROKER_URL"]
    port = urlsplit(stack.base_url).port
    queued = hostile.queued(broker, [stack.queue])
    answers, found = hostile.run(port, ENDPOINTS, hostile.secrets_of(stack.env))
    assert not found, "\n".join(found)
    assert len(answers) >= 40
    assert hostile.queued(broker, [stack.queue]) == queued
    with httpx.Client(base_url=stack.base_url, timeout=10) as client:  # the count sees a task
        assert client.post("/api/process_data", json={"seconds": 0}).status_code == 202
    assert hostile.queued(broker, [stack.queue]) == queued + 1
    print(f"step 1: {len(answers)} hostile requests: {hostile.tally(answers)}")
