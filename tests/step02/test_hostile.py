"""Hostile requests through step 2's Nginx (then Gunicorn and Flask, the real processes): every
answer a JSON 4xx, no traceback, no setting and no secret, none slower than 5 s, and no task
queued by a refused request. Nginx's limits are below Gunicorn's (nginx.conf), so even a
request Nginx refuses gets JSON."""

from __future__ import annotations

import uuid

import httpx

from tests.support import hostile

ENDPOINTS = hostile.Endpoints(
    get=("/", f"/api/tasks/{uuid.UUID(int=1)}", "/health"),
    post={"/api/process_data": b"{}"},
    api=("/",),  # the whole app is the API
)


def test_hostile_requests_get_json_refusals_and_queue_nothing(stack):
    with stack.not_consuming():
        queued = hostile.queued(stack.broker, [stack.queue])
        answers, found = hostile.run(stack.port("nginx"), ENDPOINTS, hostile.secrets_of(stack.env))
        assert not found, "\n".join(found)
        assert len(answers) >= 40
        assert hostile.queued(stack.broker, [stack.queue]) == queued
        with httpx.Client(base_url=stack.nginx, timeout=10) as client:  # the count sees a task
            assert client.post("/api/process_data", json={"seconds": 0}).status_code == 202
        assert hostile.queued(stack.broker, [stack.queue]) == queued + 1
        hostile.purge(stack.broker, [stack.queue])
    print(f"step 2: {len(answers)} hostile requests: {hostile.tally(answers)}")
