"""Servers of one's own, to restart and pause: a Redis and a PostgreSQL cluster on free ports, in a
temporary folder, gone afterwards. `make faults` restarts these, never the machine's shared
servers, which other steps, tests and people use at the same time.

    with PrivateRedis() as redis:
        redis.restart()          # SHUTDOWN SAVE, then the same server again: its data kept
        redis.pause(10)          # CLIENT PAUSE: every command waits 10 s
    with PrivatePostgres() as postgres:
        postgres.restart()       # pg_ctl restart -m fast: every connection is ended
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from workshop.probe import find_binary, free_port
from workshop.waiting import wait_until

REDIS_FIX = "`sudo apt-get install redis-server` (Debian/Ubuntu) or `brew install redis`"
POSTGRES_FIX = "`sudo apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql`"


def postgres_binary(name: str) -> str | None:
    """initdb or pg_ctl: on PATH (Homebrew), else in the newest /usr/lib/postgresql/<n>/bin
    (Debian keeps them off PATH)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return str(versions[-1]) if versions else None


def missing() -> list[str]:
    """What this machine lacks to run the private servers, one line each with its fix."""
    lines = []
    if find_binary("redis-server") is None:
        lines.append(f"✗ the program redis-server is not installed: {REDIS_FIX}")
    if not (postgres_binary("initdb") and postgres_binary("pg_ctl")):
        lines.append(f"✗ PostgreSQL's initdb and pg_ctl are not installed: {POSTGRES_FIX}")
    return lines


class PrivateRedis:
    """redis-server on a free port, without snapshots or an append-only file: what it keeps is
    written once, by the SHUTDOWN SAVE of a restart, into its folder, and read back at start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="workshop-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        # No retries of its own: a server that is going away is what this client watches.
        return redis.Redis(
            port=self.port, socket_timeout=5, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def start(self) -> PrivateRedis:
        command = [
            find_binary("redis-server") or "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
            *("--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(self.answers, 10, what=f"redis-server on port {self.port}")
        return self

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def restart(self) -> float:
        """Stop it as a restart does (its data saved), start it again on the same port; the
        seconds it did not answer."""
        began = time.monotonic()
        with contextlib.suppress(redis.ConnectionError):  # it closes the connection as it exits
            self.client().shutdown(save=True)
        self.process.wait(timeout=30)
        self.start()
        return time.monotonic() - began

    def pause(self, seconds: float) -> None:
        """Every client's commands wait `seconds` (CLIENT PAUSE ... ALL); returns at once."""
        self.client().client_pause(int(seconds * 1000), all=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: it exits; with no save points, it saves nothing
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivateRedis:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb, then pg_ctl), on a free port, trusting local
    connections, with fsync off (nothing in it must outlive the run). As root, initdb and the
    server refuse to run: they run as the `postgres` user then."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="workshop-postgres-"))
        self.data = self.folder / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.folder, user=self.user)
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, name: str, *args: str, timeout: float = 60) -> None:
        command = [postgres_binary(name) or name, *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{name} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def pg_ctl(self, action: str, *args: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "postgres.log")
        self.run("pg_ctl", action, "-D", str(self.data), "-l", log, "-w", "-o", options, *args)

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.pg_ctl("start")
        self.started = True
        return self

    def answers(self) -> bool:
        try:
            psycopg.connect(self.url, connect_timeout=2).close()
        except psycopg.Error:
            return False
        return True

    def restart(self) -> float:
        """pg_ctl restart -m fast: open transactions are rolled back, every connection ends, and
        the server starts again; the seconds that took."""
        began = time.monotonic()
        self.pg_ctl("restart", "-m", "fast")
        return time.monotonic() - began

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.pg_ctl("stop", "-m", "immediate")
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
