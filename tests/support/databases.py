"""A PostgreSQL database of its own for a test's stack, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from tests.support.services import SETTINGS


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the server of DATABASE_URL; its URL."""
    server = SETTINGS.database_url
    name = f"workshop_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


def query(url: str, text: str, *args) -> list[tuple]:
    """Run one statement; the rows it returns (none for a DELETE)."""
    with psycopg.connect(url, connect_timeout=5) as connection:
        cursor = connection.execute(text, args)
        return cursor.fetchall() if cursor.description else []
