"""The room as a cluster (workshop/tools/room.py), simulated on this machine's loopback: a
room of the test's own on the shared RabbitMQ (its own virtual host and user, always deleted
afterwards), learners' workers started by `python -m workshop join` (what `make join` runs),
the load sent by `python -m workshop room-send`."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import amqp
import httpx
import psutil
import pytest
from amqp.exceptions import AccessRefused, NotAllowed

from tests.support.browser import chromium
from tests.support.processes import Process
from tests.support.services import SETTINGS
from workshop.environment import env_with_venv
from workshop.probe import free_port
from workshop.settings import ROOT
from workshop.tools.room import permissions
from workshop.waiting import wait_until

pytestmark = pytest.mark.needs("rabbitmq", "rabbitmq-management")
# The tests' RabbitMQ and its administrator, as the tool finds them (guest on loopback).
BROKER = urlsplit(SETTINGS.celery_broker_url)
HOST, PORT = BROKER.hostname or "localhost", BROKER.port or 5672
ADMIN = (unquote(BROKER.username or "guest"), unquote(BROKER.password or "guest"))
API = f"http://{HOST}:15672/api"
NAMES = ("alice", "bob", "carol", "dave", "erin")
SHOTS = ROOT / "build" / "screenshots"


@dataclass
class LearnersRoom:
    name: str
    env: dict[str, str]
    run_dir: Path

    def workshop(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """`python -m workshop ARGS`, with this room's run folder."""
        return subprocess.run(
            [sys.executable, "-m", "workshop", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def send(self, count: int, seconds: float, timeout: float) -> subprocess.Popen:
        """`room-send` in the background, its JSON outcome on stdout at the end."""
        return subprocess.Popen(
            [sys.executable, "-m", "workshop", "room-send", "-n", str(count)]
            + ["--seconds", str(seconds), "--timeout", str(timeout), "--json"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def password(self) -> str:
        return json.loads((self.run_dir / "room" / "room.json").read_text())["password"]

    def url(self, vhost: str | None = None, password: str | None = None, port: int = PORT) -> str:
        return (
            f"amqp://{self.name}:{password or self.password}@{HOST}:{port}/"
            f"{quote(self.name if vhost is None else vhost, safe='')}"
        )

    def api(self, path: str) -> httpx.Response:
        return httpx.get(f"{API}{path}", auth=ADMIN, timeout=10)


@pytest.fixture
def room(tmp_path) -> Iterator[LearnersRoom]:
    """A room of the test's own, made by `python -m workshop room`; its virtual host and user
    are deleted at the end whatever happened (the shared RabbitMQ is left as it was)."""
    name = f"roomtest-{secrets.token_hex(4)}"
    env = env_with_venv({"WORKSHOP_RUN_DIR": str(tmp_path), "COLUMNS": "200"})
    env["CELERY_BROKER_URL"] = SETTINGS.celery_broker_url  # the management API's account too
    test_room = LearnersRoom(name, env, tmp_path)
    try:
        made = test_room.workshop("room", "--name", name)
        assert made.returncode == 0, made.stdout + made.stderr
        yield test_room
    finally:
        httpx.delete(f"{API}/vhosts/{name}", auth=ADMIN, timeout=10)
        httpx.delete(f"{API}/users/{name}", auth=ADMIN, timeout=10)


def lid_closed(learner: Process) -> None:
    """SIGKILL to join, its worker and the worker's pool processes, in the same instant."""
    top = psutil.Process(learner.pid)
    for process in (*top.children(recursive=True), top):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


@pytest.mark.timeout(240)
@pytest.mark.needs("chromium")
def test_five_learners_run_200_tasks_and_two_killed_lose_none(room, tmp_path):
    """And the live view of the room (make live ROOM=1) shows it: five workers, the two killed
    ones gone, the 200 tasks each ran, the redelivered ones; asserted from the page."""
    view_port = free_port()
    view = Process(
        "live",
        [sys.executable, "-m", "workshop", "live", "--room"],
        tmp_path,
        {**room.env, "LIVE_PORT": str(view_port)},
        ROOT,
    )
    view.wait_for_log(f"http://localhost:{view_port}", timeout=30)
    workers = {
        name: Process(
            name,
            [sys.executable, "-m", "workshop", "join", room.url(), name, "--concurrency=1"],
            tmp_path,
            room.env,
            ROOT,
        )
        for name in NAMES
    }
    try:
        for worker in workers.values():
            worker.wait_for_log(" ready.", timeout=90)
        send = room.send(200, seconds=0.3, timeout=90)
        # Mid-run: alice and bob have each taken a few tasks; the lid closes on each as it
        # has just received a new one (0.3 s of work: it is running, its message unacked).
        for name in ("alice", "bob"):
            taken = wait_until(
                lambda name=name: (n := workers[name].log().count("] received")) >= 3 and n,
                60,
                what=f"{name} taking tasks",
            )
            wait_until(
                lambda name=name, taken=taken: workers[name].log().count("] received") > taken,
                30,
                what=f"{name} taking one more",
            )
            lid_closed(workers[name])
        out, err = send.communicate(timeout=120)
        shown = the_room_in_the_live_view(f"http://127.0.0.1:{view_port}")
    finally:
        for worker in workers.values():
            worker.kill()
        if "send" in locals() and send.poll() is None:
            send.kill()
        view.popen.send_signal(signal.SIGINT)  # Ctrl-C
        view.popen.wait(15)
    assert send.returncode == 0, f"room-send exited {send.returncode}:\n{out}\n{err}"
    assert "The live view stopped." in view.log() and "Traceback" not in view.log(), view.log()
    outcome = json.loads(out)
    assert (outcome["sent"], outcome["finished"], outcome["lost"]) == (200, 200, 0), outcome
    ran = {name.split("@")[0]: counts["ran"] for name, counts in outcome["workers"].items()}
    assert set(ran) == set(NAMES) and all(ran.values()), f"a worker ran nothing: {ran}"
    assert sum(ran.values()) == 200, outcome
    # Each killed worker held the task it was running (prefetch 1, late acks): it went back
    # to the queue and another worker received it again.
    assert outcome["redelivered"] >= 1, outcome
    for name in ("alice", "bob"):
        counts = outcome["workers"][next(w for w in outcome["workers"] if w.startswith(name))]
        assert counts["received"] > counts["ran"], f"{name}: {counts}"
    # The page said the same: every worker and what it ran, the two killed, the redelivered.
    assert shown["ran"] == {n.split("@")[0]: c["ran"] for n, c in outcome["workers"].items()}
    assert shown["gone"] == ["alice", "bob"], shown
    assert shown["redelivered"] == outcome["redelivered"], shown


def the_room_in_the_live_view(url: str) -> dict:
    """The page in Debian's Chromium, once it counts 200 tasks run: what each worker ran, which
    are gone, how many tasks were redelivered; a screenshot in build/screenshots/."""
    from playwright.sync_api import TimeoutError as PageTimeout

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        # Killed workers are gone two heartbeats (2 s each) after their last one.
        try:
            page.wait_for_function(
                """() => {
                const items = [...document.querySelectorAll('#workers li')];
                const ran = items.reduce((sum, li) => sum + Number(li.dataset.ran), 0);
                const gone = items.filter((li) => li.dataset.state === 'gone').length;
                return items.length === 5 && ran === 200 && gone === 2;
            }""",
                timeout=30_000,
            )
        except PageTimeout:
            board = httpx.get(f"{url}/board.json", timeout=5).json()
            pytest.fail(f"the page never showed the whole room; its board: {board}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "live-room.png"))
        shown = page.evaluate(
            """() => {
                const items = [...document.querySelectorAll('#workers li')];
                return {
                    ran: Object.fromEntries(items.map((li) => [
                        li.dataset.name.split('@')[0], Number(li.dataset.ran)])),
                    gone: items.filter((li) => li.dataset.state === 'gone')
                        .map((li) => li.dataset.name.split('@')[0]).sort(),
                    redelivered: Number(document.getElementById('again').textContent),
                    mode: document.body.dataset.mode,
                    scrolls: document.documentElement.scrollHeight > innerHeight
                        || document.documentElement.scrollWidth > innerWidth,
                };
            }"""
        )
        assert errors == [], errors
        assert shown["mode"] == "room" and not shown["scrolls"], shown
        return shown


def refused(action, error=AccessRefused) -> str:
    with pytest.raises(error) as caught:
        action()
    return str(caught.value)


def test_a_learners_credentials_are_refused_outside_the_room(room):
    # Another virtual host, the default one included.
    assert "access to vhost '/' refused" in refused(lambda: login(room, "/"), NotAllowed)
    # The management UI and API.
    answer = httpx.get(f"{API}/overview", auth=(room.name, room.password), timeout=10)
    assert answer.status_code == 401, answer.text

    connection = login(room, room.name)
    try:

        def attempt(operation):
            channel = connection.channel()
            try:
                operation(channel)
            finally:
                if channel.is_open:
                    channel.close()

        message = amqp.Message("{}", content_type="application/json")
        # A queue or exchange of another name.
        text = refused(lambda: attempt(lambda c: c.queue_declare("elsewhere", auto_delete=True)))
        assert "queue 'elsewhere'" in text
        text = refused(lambda: attempt(lambda c: c.exchange_declare("elsewhere", "direct")))
        assert "exchange 'elsewhere'" in text
        # Publishing elsewhere: amq.topic, and celery.pidbox (a broadcast to every worker of
        # the room, such as shutdown).
        for exchange in ("amq.topic", "celery.pidbox"):
            text = refused(lambda e=exchange: attempt(lambda c: c.basic_publish(message, e, "x")))
            assert f"exchange '{exchange}'" in text
        # Reading the room's events (another worker's tasks): a queue bound to celeryev.
        pidbox = "mallory@laptop.celery.pidbox"
        text = refused(
            lambda: attempt(
                lambda c: (
                    c.queue_declare(pidbox, auto_delete=True),
                    c.queue_bind(pidbox, "celeryev", "#"),
                )
            )
        )
        assert "exchange 'celeryev'" in text

        # What the lesson says a learner CAN do in the room: purge its queue (read), and put
        # any message into any queue through the default exchange (the rpc:// results need it).
        attempt(lambda c: c.queue_purge(room.name))
        attempt(lambda c: c.basic_publish(message, "", room.name))
        admin = amqp.Connection(f"{HOST}:{PORT}", *ADMIN, virtual_host=room.name)
        admin.connect()
        try:
            assert admin.channel().queue_declare(room.name, passive=True).message_count == 1
        finally:
            admin.close()
    finally:
        connection.close()


def login(room: LearnersRoom, vhost: str) -> amqp.Connection:
    """The learner's user, logged in to `vhost`; publishes wait for the broker's confirm, so
    a refused one raises at once."""
    connection = amqp.Connection(
        f"{HOST}:{PORT}",
        userid=room.name,
        password=room.password,
        virtual_host=vhost,
        connect_timeout=5,
        confirm_publish=True,
    )
    connection.connect()
    return connection


def test_make_room_is_idempotent_and_room_close_removes_everything(room):
    first = room.password
    again = room.workshop("room", "--name", room.name)
    assert again.returncode == 0, again.stdout + again.stderr
    assert room.password == first, "a second make room changed the learners' password"
    assert f"make join ROOM=amqp://{room.name}:{first}@" in again.stdout
    stored = room.run_dir / "room" / "room.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    user = room.api(f"/users/{room.name}").json()
    assert user["tags"] in ([], ""), user  # no management access
    rights = room.api(f"/permissions/{room.name}/{room.name}").json()
    assert {key: rights[key] for key in ("configure", "write", "read")} == permissions(room.name)
    queue = room.api(f"/queues/{room.name}/{room.name}").json()
    assert queue["durable"] and not queue["auto_delete"], queue

    other = room.workshop("room", "--name", f"{room.name}-other")
    assert other.returncode == 2 and f"the room {room.name!r} is open here" in other.stdout
    assert room.api(f"/vhosts/{room.name}-other").status_code == 404

    closed = room.workshop("room-close")
    assert closed.returncode == 0, closed.stdout + closed.stderr
    assert room.api(f"/vhosts/{room.name}").status_code == 404
    assert room.api(f"/users/{room.name}").status_code == 404
    assert not stored.exists()
    assert "No room is open" in room.workshop("room-close").stdout


def test_join_says_what_is_wrong_without_a_traceback(room):
    port = free_port()
    cases = {
        "http://example.org/room": "is not a RabbitMQ URL",
        room.url(password=secrets.token_hex(8)): f"refused the user '{room.name}' or its password",
        room.url(vhost="/"): "may not use the room '/'",
        room.url(port=port): f"nothing listens on port {port}",
    }
    for url, expected in cases.items():
        joined = room.workshop("join", url, "alice", timeout=30)
        assert joined.returncode == 1, joined.stdout + joined.stderr
        assert expected in joined.stdout and "Traceback" not in joined.stderr, joined


@pytest.mark.timeout(120)
def test_ctrl_c_on_join_leaves_the_room_cleanly(room, tmp_path):
    """Ctrl-C in the learner's terminal (SIGINT to join's process group, as a terminal sends
    it; the worker has a group of its own and gets it from join, once) is a warm shutdown: the
    task it runs finishes (a second SIGINT would be a cold one, and lose it). `make join` ends
    with 0: Celery's own exit status after Ctrl-C (1) is not passed on as a failure. No worker
    process is left."""
    log = tmp_path / "join.log"
    with log.open("w") as out:
        joined = subprocess.Popen(
            [sys.executable, "-m", "workshop", "join", room.url(), "alice", "--concurrency=1"],
            cwd=ROOT,
            env=room.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a terminal gives
        )
    send, tree = None, []
    try:
        wait_until(lambda: " ready." in log.read_text(), 90, what="the worker ready")
        tree = psutil.Process(joined.pid).children(recursive=True)
        assert tree, "the worker runs as a child of join"
        send = room.send(1, seconds=3, timeout=60)
        wait_until(lambda: "] received" in log.read_text(), 30, what="alice running the task")
        os.killpg(joined.pid, signal.SIGINT)
        assert joined.wait(60) == 0, log.read_text()
        out, err = send.communicate(timeout=60)
    finally:
        if joined.poll() is None:
            os.killpg(joined.pid, signal.SIGKILL)
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        if send is not None and send.poll() is None:
            send.kill()
    text = log.read_text()
    assert "Warm shutdown" in text and "alice left the room" in text, text
    assert "Traceback" not in text, text
    assert send.returncode == 0, out + err
    outcome = json.loads(out)
    assert (outcome["finished"], outcome["lost"]) == (1, 0), outcome
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, alive
