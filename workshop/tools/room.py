"""The room as a cluster: the instructor's RabbitMQ, a worker on every learner's laptop.

    make room                               (instructor) python -m workshop room
    make join ROOM=amqp://... NAME=alice    (learner)    python -m workshop join URL NAME
    make room-send N=500                    (instructor) python -m workshop room-send -n 500
    make room-close                         (instructor) python -m workshop room-close

`room` prepares the broker through RabbitMQ's management API (idempotent): a virtual host, a
queue and a user of the room's own, all three named `room`, the user allowed only what a
Celery worker needs there. Its password is kept in .run/room/room.json (mode 0600). `join`
starts a worker of step 2's task (step 1's app, unchanged) against the room; `room-send` sends
tasks to the room and counts, per worker, what ran, what was delivered twice and what was lost.
Results come back through RabbitMQ itself (Celery's rpc:// backend): a learner's laptop cannot
reach the instructor's Redis.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from workshop.environment import env_with_venv
from workshop.settings import ROOT, Settings, safe_url

# Step 2's workers run step 1's app unchanged; its own worker module adds the hop tracing and a
# PostgreSQL history that a learner's laptop does not have, so a room worker is step 1's.
WORKER_APP = "step01_flask_celery.worker"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")  # a room's, a learner's: safe in any name
AMQP_PORT = 5672


def permissions(queue: str) -> dict[str, str]:
    """What a Celery worker of the room may do in its virtual host: three regular expressions
    on the names of queues and exchanges (RabbitMQ checks each operation against one of them).

    The names are Celery's and kombu's: the task queue and its direct exchange (both `queue`);
    the events exchange `celeryev` (-E); remote control, the fanout exchange `celery.pidbox`,
    each worker's queue `<name>@<host>.celery.pidbox`, the replies' exchange
    `reply.celery.pidbox`; and `amq.default`, the default exchange's name in permission checks,
    where the rpc:// backend publishes each result to the sender's own queue."""
    q = re.escape(queue)
    pidbox = r"[^@]+@[^@]+\.celery\.pidbox"
    return {
        # Declare (and so delete) them: the task queue and exchange, the events exchange, the
        # remote-control exchanges and the worker's own remote-control queue.
        "configure": rf"^({q}|celeryev|celery\.pidbox|reply\.celery\.pidbox|{pidbox})$",
        # Publish into them, or bind a queue (write on the queue): events, control replies,
        # results through the default exchange; the task queue and the worker's control queue
        # for their bindings.
        "write": rf"^({q}|celeryev|reply\.celery\.pidbox|amq\.default|{pidbox})$",
        # Consume from them, or bind from them (read on the exchange): tasks and control.
        "read": rf"^({q}|celery\.pidbox|{pidbox})$",
    }


class RoomError(Exception):
    """Something the person typing the command can fix; the message says what."""


# --- the instructor's side: the broker, through the management API --------------------------


@dataclass
class Room:
    name: str  # the virtual host, the user and the queue
    password: str
    broker: str  # the instructor's own URL (an administrator), without a virtual host
    management: str  # http://host:15672

    @property
    def queue(self) -> str:
        return self.name

    def url(self, host: str) -> str:
        """What a learner types: the room's user, on this address."""
        port = urlsplit(self.broker).port or AMQP_PORT
        return f"amqp://{self.name}:{self.password}@{host}:{port}/{self.name}"

    def admin_url(self) -> str:
        """The instructor's account in the room's virtual host (room-send uses it)."""
        parts = urlsplit(self.broker)
        return parts._replace(path=f"/{quote(self.name, safe='')}").geturl()


def room_file(settings: Settings | None = None) -> Path:
    return (settings or Settings()).workshop_run_dir / "room" / "room.json"


def load_room(settings: Settings | None = None) -> Room | None:
    path = room_file(settings)
    if not path.exists():
        return None
    return Room(**json.loads(path.read_text()))


def save_room(room: Room, settings: Settings | None = None) -> Path:
    path = room_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # The password is the room's key: only this account reads the file (0600 from the start).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(room.__dict__, file, indent=2)
    path.chmod(0o600)
    return path


def management_url(broker: str) -> str:
    return f"http://{urlsplit(broker).hostname or 'localhost'}:15672"


class Management:
    """RabbitMQ's management HTTP API, as the broker URL's account (guest works on loopback)."""

    def __init__(self, url: str, broker: str):
        parts = urlsplit(broker)
        auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
        self.user = auth[0]
        self.http = httpx.Client(base_url=f"{url}/api", auth=auth, timeout=10)

    def __enter__(self) -> Management:
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: dict | None = None, ok=(200, 201, 204)):
        try:
            answer = self.http.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise RoomError(
                f"RabbitMQ's management API does not answer at {self.http.base_url} ({error}): "
                "`sudo rabbitmq-plugins enable rabbitmq_management`"
            ) from None
        if answer.status_code == 401:
            raise RoomError(
                f"the management API refused the user {self.user!r}: give an administrator's "
                "account in CELERY_BROKER_URL (guest works from localhost only)"
            )
        if answer.status_code not in ok:
            raise RoomError(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer


def vhost_path(name: str) -> str:
    return quote(name, safe="")


def prepare(room: Room) -> None:
    """The room's virtual host, user, permissions and queue; each PUT is idempotent."""
    v = vhost_path(room.name)
    with Management(room.management, room.broker) as api:
        api.call("PUT", f"/vhosts/{v}", {"description": "the room as a cluster (make room)"})
        # No tag: the user cannot log in to the management UI or API.
        api.call("PUT", f"/users/{quote(room.name)}", {"password": room.password, "tags": ""})
        api.call("PUT", f"/permissions/{v}/{quote(room.name)}", permissions(room.queue))
        # The instructor's account may do everything there: send the tasks, read the events.
        full = {"configure": ".*", "write": ".*", "read": ".*"}
        api.call("PUT", f"/permissions/{v}/{quote(api.user)}", full)
        # The queue and its exchange exactly as Celery declares them (durable, classic, no
        # arguments), so tasks sent before anyone joined wait there.
        q = quote(room.queue, safe="")
        api.call("PUT", f"/exchanges/{v}/{q}", {"type": "direct", "durable": True})
        api.call("PUT", f"/queues/{v}/{q}", {"durable": True, "auto_delete": False})
        api.call(
            "POST", f"/bindings/{v}/e/{q}/q/{q}", {"routing_key": room.queue}, ok=(200, 201, 204)
        )


def close(room: Room) -> None:
    """Delete the virtual host (its queues, messages and permissions) and the user."""
    with Management(room.management, room.broker) as api:
        api.call("DELETE", f"/vhosts/{vhost_path(room.name)}", ok=(200, 204, 404))
        api.call("DELETE", f"/users/{quote(room.name)}", ok=(200, 204, 404))


SYS_NET = Path("/sys/class/net")


def virtual(interface: str, sys_net: Path = SYS_NET) -> bool:
    """On Linux, an interface with no device behind it (docker0, a bridge, a veth, a VPN's tun)
    is this machine's own plumbing: its address is rarely one a learner's laptop can reach."""
    return sys_net.is_dir() and not (sys_net / interface / "device").exists()


def addresses(sys_net: Path = SYS_NET) -> list[tuple[str, str, bool]]:
    """(interface, IPv4 address, virtual) of this machine, loopback left out, the interfaces
    with a device (Ethernet, Wi-Fi) first."""
    found = []
    for interface, entries in sorted(psutil.net_if_addrs().items()):
        for entry in entries:
            if entry.family == socket.AF_INET and not entry.address.startswith("127."):
                found.append((interface, entry.address, virtual(interface, sys_net)))
    return sorted(found, key=lambda item: item[2])


def listens(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def room_command(console: Console, name: str = "room") -> int:
    if not NAME.match(name):
        console.print(f"✗ {name!r}: a room's name is lower-case letters, digits, - and _.")
        return 2
    settings = Settings()
    broker = settings.celery_broker_url
    if not broker.startswith(("amqp://", "pyamqp://")):
        console.print(f"✗ the room needs RabbitMQ; CELERY_BROKER_URL is {broker.split(':')[0]}://")
        return 2
    broker = urlsplit(broker)._replace(path="").geturl()
    stored = load_room(settings)
    if stored and stored.name != name:  # its password would be forgotten, the room left behind
        console.print(f"✗ the room {stored.name!r} is open here: make room-close first.")
        return 2
    password = stored.password if stored else secrets.token_urlsafe(18)
    room = Room(name, password, broker, management_url(broker))
    try:
        prepare(room)
    except RoomError as error:
        console.print(f"✗ {error}")
        return 1
    path = save_room(room, settings)
    port = urlsplit(broker).port or AMQP_PORT
    console.print(
        f"✓ room {name!r} ready on RabbitMQ: virtual host {name}, queue {room.queue}, "
        f"user {name} (its password in {display(path)}, mode 0600)"
    )
    found = addresses()
    if not found:
        console.print("  No network address besides loopback: join the room's network first.")
    console.print("\nLearners type (their own name instead of alice):\n")
    for interface, address, other in found or [("lo", "127.0.0.1", False)]:
        note = f"{interface}, virtual (containers, VMs or a VPN)" if other else interface
        console.print(f"  make join ROOM={room.url(address)} NAME=alice   # {note}")
    console.print(
        f"\nOn the network: learners must reach this machine's TCP port {port} (RabbitMQ), "
        "nothing else. RabbitMQ's guest account works from this machine only; the room's "
        "user works from anywhere, in its virtual host only."
    )
    closed = [f"{address}:{port}" for _, address, _ in found if not listens(address, port)]
    if closed:
        console.print(
            f"[yellow]! RabbitMQ does not answer on {', '.join(closed)}: it listens on "
            "loopback only. In /etc/rabbitmq/rabbitmq.conf: listeners.tcp.default = 5672 and no "
            "listeners.tcp line with 127.0.0.1, then restart RabbitMQ "
            "(step02_nginx_gunicorn/README.md, the room as a cluster).[/]"
        )
    console.print("Then: make room-send N=500 (the load), make room-close (the end).")
    return 0


def close_command(console: Console) -> int:
    settings = Settings()
    room = load_room(settings)
    if room is None:
        console.print(f"No room is open ({display(room_file(settings))} does not exist).")
        return 0
    try:
        close(room)
    except RoomError as error:
        console.print(f"✗ {error}")
        return 1
    room_file(settings).unlink()
    console.print(f"✓ room {room.name!r} closed: its virtual host, queue and user are deleted.")
    return 0


def display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- the learner's side: a worker of the room -------------------------------------------------


def parse_room_url(url: str) -> tuple[str, int, str, str, str]:
    """(host, port, user, password, virtual host) of a room's URL, or RoomError."""
    example = "amqp://room:PASSWORD@192.168.1.23:5672/room (make room prints it)"
    parts = urlsplit(url)
    try:
        port = parts.port or AMQP_PORT
    except ValueError:
        raise RoomError(f"{url!r}: its port is not a number; ROOM looks like {example}") from None
    vhost = unquote(parts.path[1:])
    if parts.scheme not in ("amqp", "pyamqp") or not parts.hostname:
        raise RoomError(f"{url!r} is not a RabbitMQ URL; ROOM looks like {example}")
    if not parts.username or not parts.password or not vhost:
        raise RoomError(
            f"{url!r} lacks the room's user, password or name; ROOM looks like {example}"
        )
    return parts.hostname, port, unquote(parts.username), unquote(parts.password), vhost


def preflight(url: str, timeout: float = 5) -> str:
    """The room's queue name, once RabbitMQ accepted the URL's user in its virtual host;
    RoomError saying what is wrong otherwise. Never waits longer than `timeout` per try."""
    from amqp.exceptions import AccessRefused, NotAllowed
    from kombu import Connection

    host, port, user, _, vhost = parse_room_url(url)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.gaierror:
        raise RoomError(
            f"no machine is called {host!r}: check the address make room printed"
        ) from None
    except ConnectionRefusedError:
        raise RoomError(
            f"{host} answers, but nothing listens on port {port}: RabbitMQ is stopped, or it "
            "listens on loopback only there (the instructor sets listeners.tcp.default)"
        ) from None
    except OSError as error:  # a timeout, no route...
        raise RoomError(
            f"{host}:{port} cannot be reached ({error.strerror or error}, after {timeout:g} s at "
            "most): are you on the instructor's network? Does a firewall block port 5672?"
        ) from None
    try:
        with Connection(url, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
    except AccessRefused:
        raise RoomError(f"RabbitMQ at {host} refused the user {user!r} or its password") from None
    except NotAllowed:
        raise RoomError(f"the user {user!r} may not use the room {vhost!r} there") from None
    except Exception as error:  # a server that is not RabbitMQ, a connection cut mid-login
        raise RoomError(f"{host}:{port} did not complete an AMQP login ({error!r})") from None
    return vhost


def worker_command(name: str, concurrency: int) -> list[str]:
    return [
        *(sys.executable, "-m", "celery", "-A", WORKER_APP, "worker", "--loglevel=INFO"),
        f"--hostname={name}@%h",
        # Events: the instructor's room-send (and Flower) see what each worker receives and runs.
        "-E",
        f"--concurrency={concurrency}",
        # Neither needs to publish to celery.pidbox, which the room's user may not: so no learner
        # can broadcast a remote-control command (shutdown...) to the whole room.
        "--without-gossip",
        "--without-mingle",
    ]


def worker_environment(url: str, queue: str) -> dict[str, str]:
    """The worker's settings, as step 1 reads them: only environment variables."""
    return env_with_venv(
        {
            "CELERY_BROKER_URL": url,
            "CELERY_RESULT_BACKEND": "rpc://",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            # A laptop whose lid closes sends nothing more, not even a TCP close: RabbitMQ gives
            # its tasks back when the heartbeats stop. At 10 s (Celery asks for 120 by default)
            # a frozen worker's task ran elsewhere 24 s later (the lesson's run, SIGSTOP).
            "FLASK_CELERY__broker_heartbeat": "10",
        }
    )


def join_command(url: str, name: str, concurrency: int, console: Console) -> int:
    """Check the room, then run the worker until it stops."""
    if not NAME.match(name):
        console.print(f"✗ NAME={name!r}: use lower-case letters, digits, - and _ (NAME=alice).")
        return 2
    if concurrency < 1:
        console.print(f"✗ CONCURRENCY={concurrency}: at least 1 (a pool process per task).")
        return 2
    try:
        queue = preflight(url)
    except RoomError as error:
        console.print(f"✗ {error}")
        return 1
    console.print(f"✓ joined the room {queue!r}: a worker named {name}@{socket.gethostname()}")
    console.print("  Ctrl-C stops it (the running tasks finish first; twice: at once).")
    sys.stdout.flush()
    code, interrupted = run_worker(
        worker_command(name, concurrency), worker_environment(url, queue)
    )
    if interrupted and code in (0, 1):
        # Celery 5.7 ends a Ctrl-C's shutdown, warm or cold, with exit status 1 (EX_FAILURE in
        # celery/apps/worker.py): here it is the way a learner leaves the room, not a failure.
        console.print(f"✓ {name} left the room.")
        return 0
    return code if code >= 0 else 128 - code


def run_worker(command: list[str], environment: dict[str, str]) -> tuple[int, bool]:
    """The worker as a child of this process, in a process group of its own: each Ctrl-C
    (SIGINT) reaches it once, passed on by this process (the first, Celery's warm shutdown; the
    second, a cold one), whether it came from the terminal or from `kill -INT`; SIGTERM or
    SIGHUP (the terminal closed) is passed on as SIGTERM, a warm shutdown. Returns the worker's
    exit status and whether Ctrl-C was pressed."""
    interrupted, terminated, child = [], [], []

    def passed_on(signum, frame):
        (interrupted if signum == signal.SIGINT else terminated).append(signum)
        if child:
            with suppress(ProcessLookupError):
                child[0].send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    previous = {
        sig: signal.signal(sig, passed_on) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        if interrupted or terminated:  # before the worker started: it does not start
            return 0, bool(interrupted)
        # A fixed argument list, no shell. The handlers above are this process's own: the
        # worker starts with the default ones and installs Celery's.
        child.append(
            subprocess.Popen(command, cwd=ROOT, env=environment, process_group=0)  # noqa: S603
        )
        if interrupted or terminated:
            child[0].terminate()
        return child[0].wait(), bool(interrupted)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- the instructor's load, and what became of it ---------------------------------------------


@dataclass
class Watch:
    """What the room's workers say through Celery's events: which worker received which task
    (a task received twice was given back by a worker that died, then delivered again)."""

    received: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    succeeded: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_received(self, event: dict) -> None:
        with self.lock:
            self.received[event["uuid"]].append(event["hostname"])

    def on_succeeded(self, event: dict) -> None:
        with self.lock:
            self.succeeded[event["uuid"]] = event["hostname"]

    def running(self, worker: str) -> int:
        """Tasks this worker received and has not finished (so far as the events say)."""
        with self.lock:
            return sum(
                1
                for task, hosts in self.received.items()
                if hosts[-1] == worker and task not in self.succeeded
            )


class Sender:
    """The instructor's end: sends the room's tasks, follows the events, collects the results
    (rpc://: they come back to this process through RabbitMQ)."""

    def __init__(self, room: Room):
        from celery import Celery
        from kombu import Connection

        from workshop.steps import STEPS

        self.room, self.api = room, STEPS["step02"].task_api
        self.app = Celery("room", set_as_current=False)
        self.app.conf.update(
            broker_read_url=room.admin_url(),
            broker_write_url=room.admin_url(),
            result_backend="rpc://",
            task_default_queue=room.queue,
            accept_content=["json"],
            broker_connection_timeout=5,
        )
        self.app.backend_cls = "rpc://"
        self.watch = Watch()
        self.connection = Connection(room.admin_url(), connect_timeout=5)
        self.receiver = self.app.events.Receiver(
            self.connection,
            handlers={
                "task-received": self.watch.on_received,
                "task-succeeded": self.watch.on_succeeded,
            },
        )
        # No task is sent before the receiver consumes: no event of the first tasks is missed.
        self.listening, self.failure = threading.Event(), None
        self.receiver.on_consume_ready = lambda *args, **kwargs: self.listening.set()
        self.thread = threading.Thread(target=self._capture, daemon=True)
        self.thread.start()
        self.listening.wait(10)
        if not self.listening.is_set():
            raise RoomError(f"Celery's events could not be followed in the room: {self.failure}")
        self.results = []

    def _capture(self) -> None:
        try:
            self.receiver.capture(limit=None, timeout=None, wakeup=False)
        except Exception as error:  # said by the constructor if it happens before the start
            self.failure = error

    def workers(self, timeout: float = 2) -> list[str]:
        replies = self.app.control.ping(timeout=timeout) or []
        return sorted(name for reply in replies for name in reply)

    def send(self, count: int, seconds: float) -> None:
        args = self.api.arguments(seconds)
        for index in range(count):
            payload = {"room": index}
            self.results.append(
                self.app.send_task(self.api.task, args=(payload, *args[1:]), queue=self.room.queue)
            )

    def wait(self, timeout: float, on_done=None) -> dict:
        """What the tasks that finished within `timeout` seconds returned (or raised), by id;
        `on_done` is called at each one."""
        from celery.exceptions import TimeoutError as CeleryTimeout
        from celery.result import ResultSet

        results = ResultSet(self.results, app=self.app)
        done = {}

        def arrived(task_id, value):
            done.setdefault(task_id, value)
            if on_done:
                on_done(len(done))

        with suppress(CeleryTimeout):  # what did not finish in time is lost
            results.get(timeout=timeout, propagate=False, interval=0.2, callback=arrived)
        return done

    def outcome(self, done: dict) -> dict:
        """Per worker: tasks received, tasks finished; redelivered and lost."""
        # The last events travel behind the results: wait for them, a little.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(self.watch.succeeded) < len(done):
            time.sleep(0.05)
        ran = Counter()
        failed = 0
        for value in done.values():
            if isinstance(value, dict) and "worker" in value:
                ran[value["worker"]] += 1
            else:
                failed += 1
        with self.watch.lock:
            received = Counter(host for hosts in self.watch.received.values() for host in hosts)
            redelivered = sorted(t for t, hosts in self.watch.received.items() if len(hosts) > 1)
        workers = sorted(set(ran) | set(received))
        return {
            "sent": len(self.results),
            "finished": len(done),
            "failed": failed,
            "lost": len(self.results) - len(done),
            "redelivered": len(redelivered),
            "workers": {w: {"received": received[w], "ran": ran[w]} for w in workers},
        }

    def close(self) -> None:
        self.receiver.should_stop = True
        self.thread.join(timeout=5)
        self.connection.release()
        self.app.close()


def send_command(
    count: int, seconds: float, timeout: float, as_json: bool, console: Console
) -> int:
    room = load_room()
    if room is None:
        console.print("✗ no room is open here: make room first.")
        return 2
    from kombu.exceptions import OperationalError

    try:
        sender = Sender(room)
    except (RoomError, OSError, OperationalError) as error:
        console.print(f"✗ the room's RabbitMQ ({safe_url(room.admin_url())}): {error}")
        return 1
    try:
        workers = sender.workers()
        if not workers:
            console.print("✗ no worker answers in the room yet: learners type make join first.")
            return 1
        if not as_json:
            console.print(f"{len(workers)} workers in the room: {', '.join(workers)}")
        sender.send(count, seconds)
        done = sender.wait(timeout) if as_json else with_bar(sender, timeout, console)
        outcome = sender.outcome(done)
    finally:
        sender.close()
    if as_json:
        print(json.dumps(outcome, indent=2))
    else:
        print_outcome(outcome, console)
    return 1 if outcome["lost"] or outcome["failed"] else 0


def with_bar(sender: Sender, timeout: float, console: Console) -> dict:
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"{len(sender.results)} tasks", total=len(sender.results))
        return sender.wait(timeout, on_done=lambda count: bar.update(task, completed=count))


def print_outcome(outcome: dict, console: Console) -> None:
    table = Table(title="The room's tasks")
    for column in ("worker", "received", "ran", "handed back"):
        table.add_column(column, justify="left" if column == "worker" else "right")
    for worker, counts in outcome["workers"].items():
        back = counts["received"] - counts["ran"]
        table.add_row(worker, str(counts["received"]), str(counts["ran"]), str(back))
    console.print(table)
    console.print(
        f"sent {outcome['sent']}, finished {outcome['finished']} ({outcome['failed']} failed), "
        f"redelivered {outcome['redelivered']}, lost {outcome['lost']}"
    )
    mark = "✓" if not outcome["lost"] and not outcome["failed"] else "✗"
    console.print(f"{mark} {outcome['lost']} lost")
