"""Room of one's own on the shared servers: a PostgreSQL database created and dropped, queues
deleted afterwards. `make faults` and the tests use them, so that a run leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from workshop.settings import reachable


@contextmanager
def fresh_database(server: str, prefix: str = "workshop_test") -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of the URL `server`; its URL. Dropped at
    the end of the block, even if something still holds a connection to it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        drop_database(server, name)


def drop_database(server: str, name: str) -> None:
    """Drop the database `name` on the PostgreSQL server of the URL `server`, if it is there,
    even if something still holds a connection to it (FORCE ends them)."""
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        connection.execute(drop.format(sql.Identifier(name)))


def delete_queues(broker_url: str, queues: list[str]) -> None:
    """Remove these queues from RabbitMQ, and the direct exchange of the same name that Celery
    declares for each, so that runs do not leave queues or exchanges behind."""
    if not queues or not reachable(broker_url):
        return
    from kombu import Connection

    with Connection(broker_url, connect_timeout=2) as connection:
        for queue in queues:
            connection.default_channel.queue_delete(queue)
            connection.default_channel.exchange_delete(queue)
