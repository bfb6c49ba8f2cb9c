"""Bounded waits: poll a condition until it holds or a timeout passes; poll tasks to their end."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

FINISHED = ("SUCCESS", "FAILURE")


def wait_until(
    condition: Callable[[], object], timeout: float, interval: float = 0.1, what: str = "condition"
) -> object:
    """Poll `condition` until it returns something truthy; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met after {timeout:g} s")
        time.sleep(interval)


def wait_for_tasks(
    client: httpx.Client,
    task_ids: list[str],
    timeout: float,
    status: str = "/api/tasks/{task_id}",
    interval: float = 0.2,
    states: dict[str, list[str]] | None = None,
) -> dict[str, dict]:
    """GET each task's status until it is finished or `timeout` passes.

    Returns the last answer of every task that finished. `states`, when given, collects each
    task's states in the order they were seen (a state once, however long it lasted).
    """
    finished: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while True:
        for task_id in task_ids:
            if task_id in finished:
                continue
            body = client.get(status.format(task_id=task_id)).json()
            seen = states.setdefault(task_id, []) if states is not None else None
            if seen is not None and (not seen or seen[-1] != body["state"]):
                seen.append(body["state"])
            if body["state"] in FINISHED:
                finished[task_id] = body
        if len(finished) == len(task_ids) or time.monotonic() > deadline:
            return finished
        time.sleep(interval)


def wait_for_answer(
    client: httpx.Client, path: str, timeout: float, interval: float = 0.2
) -> httpx.Response:
    """GET `path` until it answers something else than 202 "still running", or `timeout`
    passes: the last answer either way."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(path)
        if answer.status_code != 202 or time.monotonic() > deadline:
            return answer
        time.sleep(interval)
