"""Step 4 with no server at all: the embedded default (kombu's filesystem broker, SQLite
results, where a chord waits through celery.chord_unlock instead of Redis's counter)."""

from __future__ import annotations

import uuid

from tests.step04.conftest import Stack04, wait_for
from tests.support.launched import launched


def test_the_workflows_on_the_embedded_default(tmp_path_factory):
    step = Stack04(
        "step04",
        tmp_path_factory.mktemp("embedded"),
        WORKSHOP_MODE="embedded",
        TASK_DELAY_SCALE="0",
    )
    with launched(step), step.client() as client:
        health = client.get("/health").json()
        assert health["embedded"] and health["result_backend"]["url"].startswith("db+sqlite")
        assert "EMBEDDED DEFAULT IN USE" in step.log()
        chord = client.post("/workflows/chord", json={"a": 3, "b": 4}).json()
        assert wait_for(client, chord["result_url"], 60).json()["result"] == {
            "results": [7, 12],
            "total": 19,
        }
        group = client.post("/workflows/group", json={"a": 3, "b": 4}).json()
        assert wait_for(client, group["result_url"], 60).json()["results"] == [7, 12]
        # The canvas page's list of recent workflows: one record in SQLite instead of Redis.
        listed = [each["workflow_id"] for each in client.get("/workflows").json()["workflows"]]
        assert listed == [group["workflow_id"], chord["workflow_id"]]
        assert client.get(f"/result/{uuid.uuid4()}").status_code == 404
        assert client.get(f"/result/group/{uuid.uuid4()}").status_code == 404
