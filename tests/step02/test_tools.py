"""The workshop's commands on the running step 2 (conftest.py): check, trace, ps, stress, demo."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.support.commands import workshop
from workshop.probe import free_port, port_in_use
from workshop.waiting import wait_until


def test_check_step02_passes_hop_by_hop(stack):
    done = stack.workshop("check", "step02", "--url", stack.nginx)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "✓ Nginx answers",
        "✓ Gunicorn master (pid",
        "with 2 workers",
        "✓ RabbitMQ reachable",
        "✓ Redis reachable",  # the results
        "✓ PostgreSQL reachable",  # the task history
        "✓ 2 Celery workers answer ping",
        "✓ 2 workers took tasks",
        "✓ a 2 MB body gets a JSON 413",
        "✓ Flower answers on port",
    ):
        assert line in done.stdout, done.stdout
    assert "✗" not in done.stdout


def test_one_id_follows_the_request_through_every_hop(stack):
    with httpx.Client(base_url=stack.nginx, timeout=10) as client:
        answer = client.post("/api/process_data", json={"seconds": 0.3})
        request_id, task_id = answer.headers["x-request-id"], answer.json()["task_id"]
        result = stack.wait_done(client, task_id)
    worker = result["result"]["worker"]

    def logged_everywhere():
        logs = {
            name: (stack.logs / name).read_text()
            for name in ("nginx-access.log", "gunicorn.log", "worker1.log", "worker2.log")
        }
        return (
            f'"request_id":"{request_id}"' in logs["nginx-access.log"]
            and f"request_id={request_id}" in logs["gunicorn.log"]  # access log
            and f"task {task_id} request_id={request_id} on {worker}"  # from AMQP headers
            in logs["worker1.log"] + logs["worker2.log"]
        )

    wait_until(logged_everywhere, 10, what="the request id in every log")

    done = stack.workshop("trace", task_id, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = json.loads(done.stdout)
    assert timeline["request_id"] == request_id and timeline["worker"] == worker
    hops = [s["hop"] for s in timeline["segments"]]
    assert hops == [
        "Nginx → Gunicorn",
        "Flask: record the id",
        "publish (AMQP)",
        "waiting in the queue",
        "running in the worker",
        "storing the result",
    ]
    durations = [s["ms"] for s in timeline["segments"]]
    assert all(d >= 0 for d in durations)
    assert sum(durations) == pytest.approx(timeline["total_ms"])
    running = durations[hops.index("running in the worker")]
    assert 300 <= running < 3000, "the task works for 0.3 s"
    # The hops end when the result is stored: that is when the worker says the task finished.
    assert timeline["total_ms"] >= running

    human = stack.workshop("trace", task_id)
    assert "running in " + worker in human.stdout and "total" in human.stdout


def test_a_request_straight_to_gunicorn_has_a_timeline_without_the_nginx_hop(stack):
    with httpx.Client(base_url=stack.gunicorn, timeout=10) as client:
        task_id = stack.submit(client, 0.1)
        stack.wait_done(client, task_id)
    done = stack.workshop("trace", task_id, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = json.loads(done.stdout)
    assert timeline["request"].endswith("(no Nginx)")
    assert [s["hop"] for s in timeline["segments"]][0] == "Flask: record the id"
    assert sum(s["ms"] for s in timeline["segments"]) == pytest.approx(timeline["total_ms"])


def test_ps_shows_the_masters_and_their_workers(stack):
    done = stack.workshop("ps", "step02")
    assert done.returncode == 0, done.stdout
    out = done.stdout
    assert out.count("Nginx master") == 1 and out.count("Nginx worker") == 2
    assert out.count("Gunicorn master") == 1 and out.count("Gunicorn worker") == 2
    prefix = stack.env["WORKER_PREFIX"]
    assert out.count(f"Celery worker {prefix}worker1@") == 1
    assert out.count(f"Celery worker {prefix}worker2@") == 1
    assert out.count("Celery pool process") == 4 and "Flower" in out


@pytest.mark.parametrize("target", ["nginx", "gunicorn"])
def test_stress_prints_its_figures_and_loses_nothing(stack, target):
    done = stack.workshop("stress", "-n", "40", "-c", "8", "--target", target)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"40 requests, 8 concurrent, through {target}" in out
    assert re.search(r"enqueue rate\s+│ \d+ requests/s", out)
    assert re.search(r"errors\s+│ 0", out) and re.search(r"unfinished tasks.*│ 0", out)
    assert re.search(r"worker1@\S+: \d+, \S+worker2@\S+: \d+", out)
    assert "baseline: apply_async" in out


def test_stress_fails_when_accepted_tasks_do_not_finish(stack):
    with stack.workers_not_consuming():
        done = stack.workshop("stress", "-n", "5", "-c", "2", "--no-baseline", "--timeout", "2")
    assert done.returncode == 1
    assert "5 accepted tasks not finished after 2 s" in done.stdout
    # Nobody takes them: the queue's depth, sampled while the load runs, reaches 5.
    assert re.search(rf"Queue {stack.queue}, every 0.5 s: .*\(the most: 5 at", done.stdout)


def test_the_demo_runs_on_the_running_stack(stack):
    live = free_port()
    env = {**stack.env, "LIVE_PORT": str(live)}
    done = workshop("demo", "-n", "20", env=env, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already answers" in done.stdout  # it used this stack and did not stop it
    assert "One request, hop by hop" in done.stdout and "tasks per worker" in done.stdout
    # The live view's address first, and it stopped with the demo.
    assert f"The live view: http://localhost:{live}" in done.stdout
    assert done.stdout.index("The live view") < done.stdout.index("One request, hop by hop")
    assert not port_in_use(live)
    # A worker killed mid-task: supervisord starts it again, and every task finishes.
    assert (
        "killed with SIGKILL" in done.stdout and "supervisord started worker1 again" in done.stdout
    )
    assert "4 of 4 tasks SUCCESS" in done.stdout and "Nothing lost." in done.stdout
    stack.wait_for_both_workers(60)
    assert httpx.get(f"{stack.nginx}/health", timeout=5).status_code == 200
