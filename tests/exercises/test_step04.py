"""Step 4's exercises, judged by where the messages go and what the API answers (make verify
EX=04.N). Each runs in a fresh interpreter on the embedded default (a broker in a folder, results
in SQLite, no worker): step 4 reads its settings once, when it is imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from workshop.environment import env_with_venv, environment
from workshop.launcher import create_result_tables
from workshop.settings import ROOT
from workshop.steps import STEPS


def step04(code: str, tmp_path) -> dict:
    """Run `code` with step 4's variables (its tasks instant); what it printed last, as JSON."""
    given = {"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path)}
    variables = environment(STEPS["step04"], given).variables
    create_result_tables(variables["CELERY_RESULT_BACKEND"])
    env = env_with_venv({**variables, "TASK_DELAY_SCALE": "0"})
    script = "import json\n" + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = (done.stderr.strip().splitlines() or [""])[-1]
    assert done.returncode == 0, f"step 4 fails: {last}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_04_1_the_sum_tasks_go_to_their_own_queue(tmp_path):
    found = step04(
        """
        from celery.signals import before_task_publish

        seen = {}

        @before_task_publish.connect
        def look(sender=None, routing_key=None, **kwargs):
            seen[sender.rsplit(".", 1)[-1]] = routing_key

        from step04_fastapi_canvas.celeryconfig import SUM_QUEUE
        from step04_fastapi_canvas.tasks.arithmetic import add, multiply, sum_multiply

        add.delay(1, 2), multiply.delay(1, 2), sum_multiply.delay(3, 1, 2)
        print(json.dumps({"seen": seen, "sum": SUM_QUEUE}))
        """,
        tmp_path,
    )
    seen, queue = found["seen"], found["sum"]
    wrong = {name: key for name, key in seen.items() if (key == queue) != (name != "multiply")}
    assert not wrong, (
        f"the tasks went to {seen}: add and sum_multiply go to {queue!r}, multiply stays on "
        "the default queue. Route them with task_routes"
    )


def test_04_2_the_chord_runs_its_callback_on_both_results(tmp_path):
    found = step04(
        """
        from step04_fastapi_canvas import workflows

        signature, workflow = workflows.build("chord", 3, 4, False)
        value = signature.apply().get()
        print(json.dumps({"value": value, "nodes": [each.id for each in workflow.nodes],
                          "edges": workflow.edges, "task_id": workflow.task_id,
                          "group_id": workflow.group_id}))
        """,
        tmp_path,
    )
    assert found["value"] == {"results": [7, 12], "total": 19}, (
        f"the chord on 3 and 4 gave {found['value']}: the header (add, multiply) runs side by "
        "side, then combine gets both results"
    )
    first, second, callback = found["nodes"]
    assert sorted(found["edges"]) == sorted([[first, callback], [second, callback]]), (
        f"the graph's edges are {found['edges']}: both header tasks lead to the callback"
    )
    assert found["task_id"] == callback and found["group_id"], (
        "the workflow must name the callback's id (task_id: its result is the chord's) and the "
        "header's group id (group_id)"
    )


def test_04_3_a_group_can_be_found_again_by_its_id(tmp_path):
    found = step04(
        """
        from fastapi.testclient import TestClient

        from step04_fastapi_canvas.main import app

        client = TestClient(app, base_url="http://localhost")
        sent = client.post("/workflows/group", json={"a": 3, "b": 4})
        answer = client.get(sent.json()["result_url"])
        print(json.dumps({"sent": sent.status_code, "status": answer.status_code,
                          "body": answer.json()}))
        """,
        tmp_path,
    )
    assert found["sent"] == 202, f"POST /workflows/group answered {found['sent']}"
    assert found["status"] == 202, (
        f"GET /result/group/<its id>, right after the POST, answered {found['status']} "
        f"{found['body']}: GroupResult.restore() finds no group of that id. Save the group "
        "once it is published"
    )


def test_04_4_cancelling_a_chain_revokes_its_later_links(tmp_path):
    found = step04(
        """
        from fastapi.testclient import TestClient

        from step04_fastapi_canvas.celery_app import celery_app
        from step04_fastapi_canvas.main import app

        # No worker runs here: the workers' answer to the revoke is made up.
        celery_app.control.revoke = lambda *args, **kwargs: [{"w@test": {"ok": "revoked"}}]
        client = TestClient(app, base_url="http://localhost")
        sent = client.post("/workflows/chain", json={"a": 3, "b": 4}).json()
        first, last = (node["id"] for node in sent["nodes"])
        cancelled = client.delete(f"/tasks/{first}")
        after = client.get(f"/result/{last}").json()
        print(json.dumps({"cancelled": cancelled.status_code, "after": after}))
        """,
        tmp_path,
    )
    assert found["cancelled"] == 202, f"DELETE /tasks/<first link> answered {found['cancelled']}"
    assert found["after"]["state"] == "REVOKED", (
        f"after its first link was cancelled, the chain's last link says {found['after']}: it "
        "will never run, and its result must say so. Mark it REVOKED in the result backend"
    )
