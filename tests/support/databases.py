"""A PostgreSQL database of its own for a test's stack, dropped afterwards."""

from __future__ import annotations

from contextlib import AbstractContextManager

import psycopg

from tests.support.services import SETTINGS
from workshop import scratch


def fresh_database() -> AbstractContextManager[str]:
    """A new, empty database on the server of DATABASE_URL; its URL."""
    return scratch.fresh_database(SETTINGS.database_url)


def query(url: str, text: str, *args) -> list[tuple]:
    """Run one statement; the rows it returns (none for a DELETE)."""
    with psycopg.connect(url, connect_timeout=5) as connection:
        cursor = connection.execute(text, args)
        return cursor.fetchall() if cursor.description else []
