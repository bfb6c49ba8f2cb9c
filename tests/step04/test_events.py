"""The canvas page's data: Server-Sent Events that follow a workflow until it is finished."""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.needs("rabbitmq", "redis")


def events(client, url: str) -> list[tuple[str, dict]]:
    """Every event of the stream, until the server ends it (bounded by the client's timeout)."""
    found, name = [], None
    with client.stream("GET", url, timeout=30) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                found.append((name, json.loads(line.split(":", 1)[1])))
    return found


def test_a_chord_streams_its_states_until_every_node_is_done(client):
    submitted = client.post("/workflows/chord", json={"a": 3, "b": 4}).json()
    stream = events(client, submitted["events_url"])
    names = [name for name, _ in stream]
    assert names[-1] == "finished" and set(names[:-1]) == {"state"}
    snapshots = [data for name, data in stream if name == "state"]
    callback = submitted["nodes"][-1]["id"]
    seen = [snapshot["states"][callback]["state"] for snapshot in snapshots]
    assert seen[0] == "PENDING" and seen[-1] == "SUCCESS"
    last = snapshots[-1]["states"]
    assert last[callback]["result"] == {"results": [7, 12], "total": 19}
    for node in last.values():  # the timing of each node, from the worker's own clock
        assert node["finished_at"] >= node["started_at"] > 0
    assert len({json.dumps(s) for s in snapshots}) == len(snapshots)  # only changes travel


def test_an_unknown_workflow_has_no_stream(client):
    assert client.get(f"/workflows/{uuid.uuid4()}/events").status_code == 404
    assert client.get("/workflows/nothing-like-it/events").status_code == 400  # not an id
