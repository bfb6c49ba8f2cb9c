"""PostgreSQL's job in step 2: the durable history of every task the workers ran.

Results live in Redis: clients poll them many times, and they expire after a day. The history
is the record that stays: one row per task, written once by the worker when the task ends,
with its state, the worker that ran it, Nginx's request id, its start and end, and `runs`,
how many times a worker finished it (2 means it ran twice, after a redelivery).

    psql postgresql://postgres@localhost/postgres \
        -c "SELECT state, count(*), sum(runs) FROM step02_task_history GROUP BY state"

`python -m step02_nginx_gunicorn.history` creates the table (`make step02` runs it first).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
)
from sqlalchemy.dialects import postgresql, sqlite

log = logging.getLogger("step02.history")

metadata = MetaData()
history = Table(
    "step02_task_history",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("task", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("worker", String(200)),
    Column("request_id", String(64)),  # the trace id: Nginx's $request_id
    Column("runs", Integer, nullable=False, default=1),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True), nullable=False),
)

_engine: Engine | None = None
_engine_pid: int | None = None
_started: dict[str, float] = {}


def engine() -> Engine:
    """One small pool per process, made after any fork (a connection is never shared)."""
    global _engine, _engine_pid
    if _engine is None or _engine_pid != os.getpid():
        url = os.environ.get("DATABASE_URL", "postgresql://postgres@localhost:5432/postgres")
        if url.startswith("postgresql://"):
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        # A database that does not answer costs a task 2 s at most, never a hang.
        args = {"connect_timeout": 2} if url.startswith("postgresql") else {}
        _engine = create_engine(url, pool_size=1, connect_args=args)
        _engine_pid = os.getpid()
    return _engine


def create_table() -> None:
    database = engine()
    if database.url.database and database.dialect.name == "sqlite":  # the embedded default
        Path(database.url.database).parent.mkdir(parents=True, exist_ok=True)
    metadata.create_all(database)


def started(task_id: str) -> None:
    _started[task_id] = time.time()


def finished(task_id: str, task: str, state: str, worker: str, request_id: str | None) -> None:
    """Insert the task's row, or count one more run of it: one statement, one round trip."""
    began = _started.pop(task_id, None)
    row = {
        "task_id": task_id,
        "task": task,
        "state": state,
        "worker": worker,
        "request_id": request_id,
        "runs": 1,
        "started_at": datetime.fromtimestamp(began, UTC) if began else None,
        "finished_at": datetime.now(UTC),
    }
    database = engine()
    insert = (postgresql if database.dialect.name == "postgresql" else sqlite).insert
    statement = insert(history).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=[history.c.task_id],
        set_={
            "state": statement.excluded.state,
            "worker": statement.excluded.worker,
            "runs": history.c.runs + 1,
            "started_at": statement.excluded.started_at,
            "finished_at": statement.excluded.finished_at,
        },
    )
    try:
        with database.begin() as connection:
            connection.execute(statement)
    except Exception as error:  # the task itself succeeded: its result is in Redis already
        log.warning("task %s: not written to the history (%s)", task_id, error)


if __name__ == "__main__":
    create_table()
