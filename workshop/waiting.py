"""Bounded waits: a condition until it holds; tasks until they finish, read from the result
backend through Celery's own join; status URLs until they stop answering 202 "still running".
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

import httpx
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult, ResultSet


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


def finished(
    app: Celery, task_ids: list[str], timeout: float, interval: float = 0.2
) -> dict[str, AsyncResult]:
    """The tasks among `task_ids` that are done (SUCCESS or FAILURE) within `timeout` seconds.

    Celery's ResultSet.get waits for them (a native join where the backend has one, as Redis
    does); when the time is up, the ones it had not reached yet are looked at once more."""
    results = ResultSet([app.AsyncResult(task_id) for task_id in task_ids], app=app)
    done: dict[str, AsyncResult] = {}
    try:
        results.get(
            timeout=timeout,
            propagate=False,
            interval=interval,
            callback=lambda task_id, _: done.setdefault(task_id, app.AsyncResult(task_id)),
        )
    except CeleryTimeout:
        done |= {r.id: r for r in results.results if r.id not in done and r.ready()}
    return done


def done_at(result: AsyncResult) -> float:
    """When a finished task was done, in seconds since the epoch (Celery's date_done is UTC)."""
    moment = result.date_done
    if moment.tzinfo is None:  # a SQL backend's column keeps no time zone
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def follow(
    client: httpx.Client,
    urls: list[str],
    timeout: float,
    interval: float = 0.2,
    states: dict[str, list[str]] | None = None,
    retry_errors: bool = False,
) -> dict[str, httpx.Response]:
    """GET each URL until it answers something else than 202 ("still running"), or `timeout`
    passes: the last answer of each. `states`, when given, collects the states each one went
    through, in order (a state once, however long it lasted). `retry_errors`: a request that
    fails (a server restarting) is tried again in the next round instead of raising."""
    last: dict[str, httpx.Response] = {}
    deadline = time.monotonic() + timeout
    while True:
        for url in [url for url in urls if url not in last or last[url].status_code == 202]:
            try:
                answer = last[url] = client.get(url)
            except httpx.HTTPError:
                if not retry_errors:
                    raise
                continue
            if states is not None:
                state = answer.json().get("state") if is_json(answer) else str(answer.status_code)
                seen = states.setdefault(url, [])
                if not seen or seen[-1] != state:
                    seen.append(state)
        running = [url for url in urls if url not in last or last[url].status_code == 202]
        if not running or time.monotonic() > deadline:
            return last
        time.sleep(interval)


def is_json(answer: httpx.Response) -> bool:
    """An answer whose body is JSON (whatever its status)."""
    try:
        answer.json()
    except ValueError:
        return False
    return True
