"""Ask the machine what is there: free ports, installed programs, servers and workers that answer.

Nothing here imports a step's code.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Mapping
from pathlib import Path

import httpx
from celery import Celery

from workshop.settings import safe_url

# sbin folders are not on every user's PATH, yet nginx runs from there without root.
EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin")


def find_binary(name: str) -> str | None:
    """Where the program `name` is installed, or None."""
    found = shutil.which(name)
    if found:
        return found
    return next((str(Path(d) / name) for d in EXTRA_BIN_DIRS if (Path(d) / name).exists()), None)


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    """True when something answers HTTP at `url` with a status below 500."""
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def transport_options(variables: Mapping[str, str]) -> dict:
    """kombu's options for the broker these variables name: the folders of the filesystem
    broker (the embedded default), none for a server."""
    folder = variables.get("CELERY_BROKER_FOLDER")
    if not folder or not variables.get("CELERY_BROKER_URL", "").startswith("filesystem://"):
        return {}
    return {
        "data_folder_in": f"{folder}/messages",
        "data_folder_out": f"{folder}/messages",
        "control_folder": f"{folder}/control",
        "polling_interval": 0.1,
    }


def celery_app(broker: str, backend: str | None = None, **conf) -> Celery:
    """A Celery app of the tools' own, on exactly these servers. (Celery prefers this process's
    CELERY_BROKER_URL and CELERY_RESULT_BACKEND to the URLs an app is given; the read and write
    URLs and backend_cls come before them: a learner's variables cannot redirect a tool.)"""
    app = Celery("workshop-tool", set_as_current=False)
    app.conf.update(broker_read_url=broker, broker_write_url=broker, accept_content=["json"])
    app.conf.update(conf)
    app.backend_cls = backend
    return app


def celery_client(variables: Mapping[str, str]) -> Celery:
    """A Celery app on a step's broker, result backend and queue: it sends tasks by name and
    reads results, without importing the step's code."""
    return celery_app(
        variables["CELERY_BROKER_URL"],
        variables["CELERY_RESULT_BACKEND"],
        broker_transport_options=transport_options(variables),
        task_default_queue=variables["CELERY_TASK_DEFAULT_QUEUE"],
        result_extended=True,
        broker_connection_timeout=2,
    )


class OtherBroker(Exception):
    """The running step uses a broker this command cannot reach: its password is not known here."""


def broker_url_for(health: dict, variables: Mapping[str, str]) -> tuple[str, dict]:
    """The broker of a running step, as /health names it (with its password masked). A URL
    with nothing masked is used as it is; otherwise the broker these variables name (the
    launcher's choice, from CELERY_BROKER_URL) gives the password, if it is the same broker."""
    if health["broker"]["embedded"]:  # its folder, even if this command chose a server
        run_dir = Path(variables["STEP_RUN_DIR"]).parent
        folder = variables.get("CELERY_BROKER_FOLDER") or run_dir / "broker"
        embedded = {"CELERY_BROKER_URL": "filesystem://", "CELERY_BROKER_FOLDER": str(folder)}
        return "filesystem://", transport_options(embedded)
    shown, own = health["broker"]["url"], variables["CELERY_BROKER_URL"]
    if safe_url(own) == shown:
        return own, {}
    if safe_url(shown) == shown and "**" not in shown:
        return shown, {}
    raise OtherBroker(
        f"the step uses the broker {shown}, this command {safe_url(own)}: give it the same "
        "CELERY_BROKER_URL (in .env, or in front of the command)"
    )


def ping_workers(
    broker_url: str, transport_options: dict, timeout: float = 2.0, only: list[str] | None = None
) -> list[str]:
    """Names of the workers that answer a ping within `timeout` seconds (kombu errors propagate).

    `only`: ping these workers alone, and stop waiting as soon as all of them answered.
    """
    app = celery_app(
        broker_url,
        broker_transport_options=transport_options,
        broker_connection_timeout=2,
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
    )
    try:
        replies = app.control.ping(destination=only, timeout=timeout) or []
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def queue_depth(broker_url: str, transport_options: dict, queue: str) -> int:
    """Messages waiting in `queue` (0 when the broker cannot tell, or the queue does not exist)."""
    from kombu import Connection

    try:
        with Connection(
            broker_url, transport_options=transport_options, connect_timeout=2
        ) as connection:
            return connection.default_channel.queue_declare(queue, passive=True).message_count
    except Exception:  # no such queue yet, or a transport that cannot count
        return 0
