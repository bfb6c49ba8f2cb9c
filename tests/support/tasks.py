"""Submit a task through a step's API and follow its status URL to its end (workshop.waiting
does the polling)."""

from __future__ import annotations

import httpx

from workshop.waiting import follow


def submit(client: httpx.Client, body: dict) -> str:
    answer = client.post("/api/process_data", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["task_id"]


def wait_for(client: httpx.Client, path: str, timeout: float = 30) -> httpx.Response:
    """GET `path` until it answers something else than 202; TimeoutError if it never does."""
    answer = follow(client, [path], timeout, interval=0.05)[path]
    if answer.status_code == 202:
        raise TimeoutError(f"{path} still 202 after {timeout:g} s: {answer.text}")
    return answer


def wait_for_task(client: httpx.Client, task_id: str, timeout: float = 30) -> dict:
    """The task's last answer once it is SUCCESS or FAILURE; TimeoutError otherwise."""
    return wait_for(client, f"/api/tasks/{task_id}", timeout).json()


def states_until_done(client: httpx.Client, task_id: str, timeout: float = 20) -> list[str]:
    """Every distinct state the API reported while polling, in order."""
    states: dict[str, list[str]] = {}
    path = f"/api/tasks/{task_id}"
    follow(client, [path], timeout, interval=0.05, states=states)
    return states[path]
