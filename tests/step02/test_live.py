"""`make live` in a real browser: Debian's Chromium, driven by Playwright (no browser download),
on the page that `python -m workshop live` serves for the running step 2.

Asserted from the page itself: a request's row has a bar for every hop; a worker SIGKILLed in
the middle of a task shows the task again (redelivered) and then done, and the worker killed;
a request Nginx answers alone (no span) shows Nginx's own time; 1280×720 and 1024×768 scroll
nothing. Ctrl-C stops the view, its open streams too. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest

from tests.step02.conftest import Stack02
from tests.support.browser import chromium
from tests.support.launched import launched
from workshop.probe import free_port
from workshop.settings import ROOT
from workshop.tools import live as live_tool
from workshop.tools.trace import Paths
from workshop.waiting import wait_until

SHOTS = ROOT / "build" / "screenshots"
HOPS = ["nginx", "flask", "publish", "queue", "worker", "result"]
browser_test = pytest.mark.needs("rabbitmq", "postgresql", "nginx", "chromium")


class LiveView:
    """`python -m workshop live` for a stack, on a port of its own, stopped with Ctrl-C."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.log = log
        with log.open("w") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "workshop", "live"],
                cwd=ROOT,
                env={**env, "LIVE_PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"

        def answers() -> bool:
            assert self.popen.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"{self.url}/board.json", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 30, interval=0.2, what="the live view answering")

    def interrupt(self, timeout: float = 15) -> int:
        """Ctrl-C; its exit status (it must end within `timeout` seconds)."""
        self.popen.send_signal(signal.SIGINT)
        try:
            return self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()


@pytest.fixture(scope="module")
def live(stack, tmp_path_factory):
    view = LiveView(stack.env, tmp_path_factory.mktemp("live") / "live.log")
    try:
        yield view
    finally:
        code = view.interrupt()
        text = view.log.read_text()
        assert code == 0, text
        assert "The live view stopped." in text and "Traceback" not in text, text


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:  # one browser for the module: it takes seconds to start
        yield browser


@pytest.fixture
def page(browser, live):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors, remote = [], []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda r: None if r.url.startswith(live.url) else remote.append(r.url))
        page.goto(live.url)
        page.wait_for_selector("#workers li")  # the first push arrived
        yield page
        assert errors == [], errors
        assert remote == [], f"the page loaded something from elsewhere: {remote}"
    finally:
        context.close()


def submit(stack, seconds: float) -> str:
    answer = httpx.post(f"{stack.nginx}/api/process_data", json={"seconds": seconds}, timeout=10)
    assert answer.status_code == 202, answer.text
    return answer.json()["task_id"]


def hops(page, task_id: str) -> list[str]:
    return page.locator(f".row[data-task='{task_id}'] .bar").evaluate_all(
        "bars => bars.map(b => b.dataset.hop)"
    )


def fits(page, width: int, height: int) -> None:
    """Nothing scrolls, and every panel is inside the window."""
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= width and size[1] <= height, f"the page is {size} in a {width}×{height}"
    for part in ("header", "#requests", "#queue-box", "#workers-box", "#minute-box"):
        box = page.locator(part).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (part, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (part, box)


@browser_test
def test_a_request_is_drawn_with_a_bar_for_every_hop(page, stack):
    task_id = submit(stack, 0.5)
    # Within a second of the answer, normally; 3 s for a busy machine.
    page.wait_for_selector(f".row[data-task='{task_id}']", timeout=3_000)
    page.wait_for_selector(f".row[data-task='{task_id}'][data-state=done]")
    page.wait_for_function(  # the bars of make trace, once the worker's spans are in
        f"document.querySelectorAll(\".row[data-task='{task_id}'] .bar\").length >= 6"
    )
    assert hops(page, task_id) == HOPS
    workers = page.locator("#workers li[data-state=up]").evaluate_all(
        "items => items.map(i => i.dataset.name)"
    )
    assert sorted(workers) == sorted(stack.workers())
    assert page.text_content("#rate") not in ("", "–")
    fits(page, 1280, 720)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "live-request.png")


def kill_the_worker_of(stack, name: str) -> int:
    """SIGKILL for the worker `name` (worker1 or worker2 of the stack) and its pool processes,
    in the same instant, as a machine that dies; its main pid."""
    program = name.split("@")[0].rsplit("-", 1)[-1]
    pid = int(stack.supervisorctl("pid", program).strip())
    victims = [psutil.Process(pid), *psutil.Process(pid).children()]
    for process in victims:
        process.kill()
    return pid


@browser_test
def test_a_killed_workers_task_is_shown_again_then_finished(page, stack):
    task_id = submit(stack, 4)
    row = f".row[data-task='{task_id}']"
    page.wait_for_selector(f"{row}[data-state=running]")
    worker = page.get_attribute(row, "data-worker")
    assert worker in stack.workers()
    try:
        pid = kill_the_worker_of(stack, worker)
        page.wait_for_selector(f"{row}[data-redelivered=yes]")
        page.wait_for_selector(f"{row} .bar.lost[data-hop=worker]")  # the run that died
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "live-redelivered.png")
        page.wait_for_selector(f"{row}[data-state=done]", timeout=30_000)
        died = page.get_attribute(f"#workers li[data-name='{worker}']", "data-died")
        assert died == "1"
        assert str(pid) in page.text_content(f"#workers li[data-name='{worker}']")
        page.wait_for_function(
            f'document.querySelectorAll("{row} .bar[data-hop=result]").length == 1'
        )
        again = page.text_content(f"{row} .again")  # who had it, in order
        assert "redelivered" in again and again.index(worker.split("@")[0]) < again.index("→")
        page.screenshot(path=SHOTS / "live-redelivered-done.png")
    finally:
        stack.wait_for_both_workers(60)  # supervisord started it again: the stack is whole


@browser_test
def test_a_request_without_spans_shows_nginx_time(page, stack):
    # Nginx answers a 2 MB body itself (413): no Flask, no span, the way every request looks
    # with tracing off.
    answer = httpx.post(
        f"{stack.nginx}/api/process_data",
        content=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 413
    row = f".row[data-id='{answer.headers['x-request-id']}']"
    page.wait_for_selector(f"{row} .note-untraced")
    bars = page.locator(f"{row} .bar").evaluate_all("bars => bars.map(b => b.dataset.hop)")
    assert bars == ["nginx"]
    assert "Nginx's" in page.text_content(f"{row} .note-untraced")
    assert page.get_attribute(row, "data-state") == "answered"


@browser_test
def test_1024x768_scrolls_nothing(browser, live, stack):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        page.goto(live.url)
        page.wait_for_selector("#workers li")
        task_id = submit(stack, 0.2)
        page.wait_for_selector(f".row[data-task='{task_id}'][data-state=done]", timeout=20_000)
        fits(page, 1024, 768)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "live-1024x768.png")
    finally:
        context.close()


@browser_test
def test_with_tracing_off_the_page_says_so_and_shows_what_is_known(browser, tmp_path_factory):
    """A step 2 of its own with OTEL_SDK_DISABLED=true: no span at all. The request shows
    Nginx's own time; its task, known from the workers' events alone, a row of its own."""
    run_dir = tmp_path_factory.mktemp("untraced")
    untraced = Stack02("step02", run_dir, GUNICORN_WORKERS="1", OTEL_SDK_DISABLED="true")
    with launched(untraced):
        view = LiveView(untraced.env, run_dir / "live.log")
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.goto(view.url)
            page.wait_for_selector("#workers li")
            answer = httpx.post(f"{untraced.nginx}/api/process_data", json={"seconds": 0.5})
            assert answer.status_code == 202, answer.text
            row = f".row[data-id='{answer.headers['x-request-id']}']"
            page.wait_for_selector(f"{row} .note-untraced")
            assert page.get_attribute(row, "data-state") == "answered"
            hops = page.locator(f"{row} .bar").evaluate_all("bars => bars.map(b => b.dataset.hop)")
            assert hops == ["nginx"]
            assert "tracing is off" in page.text_content("#status")
            task = f".row[data-task='{answer.json()['task_id']}'][data-state=done]"
            page.wait_for_selector(task)  # from the events: received, started, succeeded
            hops = page.locator(f"{task} .bar").evaluate_all("bars => bars.map(b => b.dataset.hop)")
            assert hops == ["queue", "worker"]
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / "live-tracing-off.png")
        finally:
            context.close()
            assert view.interrupt() == 0, view.log.read_text()


@pytest.mark.needs("rabbitmq", "postgresql", "nginx")
def test_a_stream_ends_when_its_client_leaves(live):
    def streams() -> list:
        """The view's open connections on its port (a closed one is gone, not half-open)."""
        connections = psutil.Process(live.popen.pid).net_connections("tcp")
        return [c for c in connections if c.laddr.port == live.port and c.status != "LISTEN"]

    with httpx.stream("GET", f"{live.url}/events", timeout=10) as stream:
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event:")) == "event: board"
        assert len(streams()) == 1
    wait_until(lambda: not streams(), 5, what="the view closing the stream of a client gone")
    assert httpx.get(f"{live.url}/board.json", timeout=5).status_code == 200  # still serving


@pytest.mark.needs("rabbitmq", "postgresql", "nginx")
def test_ctrl_c_ends_the_open_streams_and_the_view(stack, tmp_path):
    view = LiveView(stack.env, tmp_path / "live.log")
    try:
        with httpx.stream("GET", f"{view.url}/events", timeout=10) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: board"
            assert view.interrupt() == 0
            rest = list(lines)  # the server ends the response: the iteration ends
        assert "event: stopped" in rest, rest
    finally:
        if view.popen.poll() is None:
            view.popen.kill()
    text = view.log.read_text()
    assert "The live view stopped." in text and "ERROR" not in text, text


def test_live_says_so_when_step02_is_not_running(tmp_path):
    env = {**os.environ, "WORKSHOP_RUN_DIR": str(tmp_path), "LIVE_PORT": str(free_port())}
    env["WORKSHOP_MODE"] = "embedded"  # no server needed to say it
    done = subprocess.run(
        [sys.executable, "-m", "workshop", "live"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "step02 is not running" in done.stdout and "make step02" in done.stdout


def test_the_board_without_spans_and_with_bounded_memory(tmp_path):
    """Tracing off (no spans file): rows from Nginx's log alone say so; the board keeps the
    last KEEP requests however many come; a line read half-written is read whole later."""
    paths = Paths(spans=tmp_path / "spans.jsonl", access_log=tmp_path / "access.log")
    board = live_tool.Board(paths, ["worker1@here"])
    now = time.time()
    lines = [
        json.dumps(
            {
                "msec": now - 10 + n / 1000,
                "request_id": f"{n:032x}",
                "request": "POST /api/process_data HTTP/1.1",
                "status": 202,
                "request_time": 0.004,
            }
        )
        for n in range(3 * live_tool.KEEP)
    ]
    text = "\n".join(lines) + "\n"
    paths.access_log.write_text(text[: len(text) // 2])  # a line cut in the middle
    board.read_files()
    with paths.access_log.open("a") as log:
        log.write(text[len(text) // 2 :])
    board.read_files()
    snapshot = board.snapshot()
    assert snapshot["tracing"] is False
    assert len(board.requests) == live_tool.KEEP and len(snapshot["rows"]) == live_tool.KEEP
    assert snapshot["minute"]["requests"] == 3 * live_tool.KEEP  # every line counted once
    row = snapshot["rows"][0]
    assert row["id"] == f"{3 * live_tool.KEEP - 1:032x}"  # the newest first
    assert row["untraced"] and row["state"] == "answered"
    assert [s["hop"] for s in row["segments"]] == ["nginx"]
    assert row["segments"][0]["to"] - row["segments"][0]["from"] == pytest.approx(0.004, abs=1e-6)


def span(trace: str, name: str, kind: str, at: float, **attributes) -> str:
    iso = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "name": name,
            "context": {"trace_id": f"0x{trace}"},
            "kind": kind,
            "start_time": iso,
            "end_time": iso,
            "attributes": attributes,
        }
    )


def test_a_burst_keeps_each_rows_nginx_line_whatever_the_order_of_the_files(tmp_path):
    """200 requests at once: Nginx logs them in one order, the spans come in another; every row
    kept still has its Nginx bar, and the minute's figures count every request."""
    paths = Paths(spans=tmp_path / "spans.jsonl", access_log=tmp_path / "access.log")
    board = live_tool.Board(paths, ["worker1@here"])
    now, count = time.time(), 200
    ids = [f"{n:032x}" for n in range(count)]
    paths.access_log.write_text(
        "".join(
            json.dumps(
                {
                    "msec": now - 5,
                    "request_id": rid,
                    "request": "POST /api/process_data HTTP/1.1",
                    "status": 202,
                    "request_time": 0.003,
                }
            )
            + "\n"
            for rid in ids
        )
    )
    paths.spans.write_text(
        "".join(
            span(
                rid, "POST /api/process_data", "SpanKind.SERVER", now - 5, **{"http.method": "POST"}
            )
            + "\n"
            + span(
                rid,
                "apply_async/t",
                "SpanKind.PRODUCER",
                now - 5,
                **{"messaging.message.id": f"task-{rid}"},
            )
            + "\n"
            for rid in reversed(ids)
        )
    )
    board.read_files()
    snapshot = board.snapshot()
    assert len(snapshot["rows"]) == live_tool.KEEP
    assert snapshot["minute"]["requests"] == count
    for row in snapshot["rows"]:
        assert [s["hop"] for s in row["segments"]][:3] == ["nginx", "flask", "publish"], row
        assert row["state"] == "queued" and row["task_id"] == f"task-{row['id']}"


def events_board(monkeypatch, tmp_path) -> live_tool.Board:
    """A board fed with Celery's events alone; its tasks are rows at once."""
    monkeypatch.setattr(live_tool, "NO_SPANS_AFTER", -1)
    paths = Paths(spans=tmp_path / "spans.jsonl", access_log=tmp_path / "access.log")
    return live_tool.Board(paths, ["w1@here", "w2@here"])


def feed(board: live_tool.Board, *events: tuple[str, str, int]) -> dict:
    """(type, worker, pid) events of the task "t", a second apart (after those fed before);
    the task's row."""
    for kind, worker, pid in events:
        board.clock = getattr(board, "clock", time.time() - 30) + 1
        for name, its_pid in (("w1@here", 11), ("w2@here", 22)):  # both send heartbeats
            beat = {"type": "worker-heartbeat", "hostname": name, "pid": its_pid, "freq": 30}
            board.on_event({**beat, "timestamp": board.clock})
        event = {"type": kind, "hostname": worker, "pid": pid, "uuid": "t"}
        if kind == "task-rejected":
            event["requeue"] = True
        board.on_event({**event, "timestamp": board.clock})
    return next(row for row in board.snapshot()["rows"] if row["task_id"] == "t")


def test_a_worker_killed_is_gone_and_its_task_redelivered(monkeypatch, tmp_path):
    board = events_board(monkeypatch, tmp_path)
    row = feed(
        board,
        ("task-received", "w1@here", 11),
        ("task-started", "w1@here", 11),
        ("task-received", "w2@here", 22),  # RabbitMQ delivered it again: w1 died
    )
    assert row["redelivered"] and row["state"] == "queued"
    assert [(s["hop"], s.get("lost", False)) for s in row["segments"]] == [
        ("queue", False),
        ("worker", True),
        ("queue", False),
    ]
    workers = {w["name"]: w for w in board.snapshot()["workers"]}
    assert workers["w1@here"]["gone_pids"] == [11] and workers["w2@here"]["gone_pids"] == []
    row = feed(board, ("task-started", "w2@here", 22), ("task-succeeded", "w2@here", 22))
    assert row["state"] == "done" and row["attempts"] == ["w1@here", "w2@here"]


def test_a_pool_process_killed_gives_the_task_back_and_its_worker_lives(monkeypatch, tmp_path):
    board = events_board(monkeypatch, tmp_path)
    row = feed(
        board,
        ("task-received", "w1@here", 11),
        ("task-started", "w1@here", 11),
        ("task-rejected", "w1@here", 11),  # task_reject_on_worker_lost: back to the queue
    )
    assert row["state"] == "queued" and row["segments"][-1] == {
        "hop": "queue",
        "from": row["segments"][-2]["to"],
        "to": None,
    }
    row = feed(board, ("task-received", "w1@here", 11), ("task-started", "w1@here", 11))
    assert row["redelivered"] and row["state"] == "running"
    workers = {w["name"]: w for w in board.snapshot()["workers"]}
    assert workers["w1@here"]["gone_pids"] == [] and workers["w1@here"]["state"] == "up"
    assert workers["w1@here"]["running"] == ["t"]


@pytest.mark.needs("rabbitmq")
def test_the_ready_count_is_rabbitmqs_of_this_instant():
    """The queue box's ready count comes from a passive queue.declare, not from the management
    API's statistics (refreshed every 5 s): three messages published are three ready at once,
    a message delivered and not acknowledged leaves them, and a queue not declared yet is 0."""
    import uuid

    from kombu import Connection, Exchange, Queue

    from workshop.settings import Settings

    name = f"test-live-{uuid.uuid4().hex[:8]}"
    readers = live_tool.Readers(live_tool.Board(None, None), None, (), None, name)
    lagging = {"known": True, "ready": 0, "unacked": 7, "consumers": 0}
    with Connection(Settings().celery_broker_url, connect_timeout=5) as connection:
        assert live_tool.declared_now(connection, name) is None
        assert readers.exact(connection, lagging)["ready"] == 0
        queue = Queue(name, Exchange(""), routing_key=name, auto_delete=True)
        with connection.Producer() as producer:
            for n in range(3):
                producer.publish({"n": n}, routing_key=name, declare=[queue])
        assert live_tool.declared_now(connection, name) == (3, 0)
        channel = connection.channel()
        held = queue(channel).get(no_ack=False)  # delivered, not acknowledged
        assert held is not None
        figures = readers.exact(connection, lagging)
        assert figures == {"known": True, "ready": 2, "unacked": 7, "consumers": 0, "exact": True}
        held.ack()
        queue(channel).delete()
        channel.close()
