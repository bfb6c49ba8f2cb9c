"""Late acknowledgements, for real: the pool processes are killed while `add` runs. The worker
acknowledges a message once its task has ended (task_acks_late) and puts it back in the queue
when the process running it dies (task_reject_on_worker_lost): add runs again, from the start,
and succeeds. Eager mode cannot show this: it sends no message."""

from __future__ import annotations

import contextlib

import psutil
import pytest

from tests.step04.conftest import wait_for
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "redis")


def test_add_runs_again_when_its_pool_process_dies(stack, client):
    submitted = client.post("/workflows/solo", json={"a": 3, "b": 4}).json()  # add: 2 s
    result_url = submitted["result_url"]
    wait_until(
        lambda: client.get(result_url).json()["state"] == "PROGRESS",
        10,
        interval=0.05,
        what="add running",
    )
    worker = psutil.Process(int(stack.supervisorctl("pid", "worker")))
    for pool_process in worker.children():  # the one running add among them
        with contextlib.suppress(psutil.NoSuchProcess):
            pool_process.kill()
    done = wait_for(client, result_url, 30).json()
    assert done["state"] == "SUCCESS" and done["result"] == 7, done
    log = (stack.logs / "worker.log").read_text()
    assert "WorkerLostError" in log
    assert log.count(f"add[{submitted['task_id']}] received") == 2, "delivered again"
