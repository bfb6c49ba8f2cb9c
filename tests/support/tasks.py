"""Submit a task through a step's API and poll it to its end (workshop.waiting does the polling)."""

from __future__ import annotations

import httpx

from workshop.waiting import wait_for_tasks


def submit(client: httpx.Client, body: dict) -> str:
    answer = client.post("/api/process_data", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["task_id"]


def wait_for_task(client: httpx.Client, task_id: str, timeout: float = 30) -> dict:
    """The task's last answer once it is SUCCESS or FAILURE; TimeoutError otherwise."""
    finished = wait_for_tasks(client, [task_id], timeout, interval=0.1)
    if task_id not in finished:
        raise TimeoutError(f"task {task_id} not finished after {timeout:g} s")
    return finished[task_id]


def states_until_done(client: httpx.Client, task_id: str, timeout: float = 20) -> list[str]:
    """Every distinct state the API reported while polling, in order."""
    states: dict[str, list[str]] = {}
    wait_for_tasks(client, [task_id], timeout, interval=0.05, states=states)
    return states[task_id]
