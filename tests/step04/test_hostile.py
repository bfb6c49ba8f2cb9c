"""Hostile requests against step 4's real processes (Uvicorn and FastAPI): every answer a 4xx,
JSON but for the canvas page and its files, no traceback, no setting and no secret, none slower
than 5 s, and no task queued by a refused request (HEAD on the seed's GET /solo/... included:
a GET there starts a task)."""

from __future__ import annotations

import uuid

from tests.support import hostile

ID = uuid.UUID(int=1)
ENDPOINTS = hostile.Endpoints(
    get=(
        "/",
        f"/result/{ID}",
        f"/result/group/{ID}",
        f"/workflows/{ID}",
        "/canvas",
        "/docs",
        "/openapi.json",
        "/health",
    ),
    post={f"/workflows/{kind}": b'{"a": 1, "b": 2}' for kind in ("solo", "chain", "group")},
    starts_work=("/solo/add", "/solo/chain", "/solo/group"),
    static="/static/canvas.js",
    by_id="/result/",
    api=("/",),  # JSON everywhere...
    pages=("/canvas", "/static/", "/docs", "/redoc"),  # ...but for the pages and their files
    # Uvicorn refuses what it cannot parse (a Content-Length that is not a number) itself, with
    # a text/plain 400 that no setting changes: still a 400, no traceback.
    server_json=False,
)


def test_hostile_requests_get_clear_refusals_and_queue_nothing(stack):
    queues = [stack.queue, f"{stack.queue}-sum"]
    with stack.not_consuming():
        queued = hostile.queued(stack.broker, queues)
        secrets = hostile.secrets_of(stack.env)
        answers, found = hostile.run(stack.port("fastapi"), ENDPOINTS, secrets)
        assert not found, "\n".join(found)
        assert len(answers) >= 40
        assert hostile.queued(stack.broker, queues) == queued
        with stack.client() as client:  # the count sees a task that is asked for
            assert client.post("/workflows/solo", json={"a": 1, "b": 2}).status_code == 202
        assert hostile.queued(stack.broker, queues) == queued + 1
        hostile.purge(stack.broker, queues)
    print(f"step 4: {len(answers)} hostile requests: {hostile.tally(answers)}")
