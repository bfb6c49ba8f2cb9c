"""`make bench`, shortened: the naive stack and step 2 twice really start, every row is measured
once against real servers, and the report says what each path did. No figure is asserted: a
speed is the bench's to report, never a test's to judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from workshop.tools.bench import ROWS, Plan, bench


@pytest.mark.needs("rabbitmq", "redis", "postgresql", "nginx")
@pytest.mark.timeout(360)  # about a minute alone; three stacks start and stop on a busy machine
def test_a_short_bench_measures_every_row(tmp_path: Path):
    with (tmp_path / "terminal.txt").open("w") as terminal:
        status = bench(
            Console(file=terminal, width=200),
            Plan(rounds=1, seconds=1.0, tasks=40, warm_up=False),
            out=tmp_path,
        )
    assert status == 0
    report = json.loads((tmp_path / "bench.json").read_text())
    rows = {row["path"]: row for row in report["rows"]}
    assert set(rows) == {path for _, path, _ in ROWS}
    for path, row in rows.items():
        assert len(row["rates"]) == 1 and row["rates"][0] > 0, path
        assert len(row["ratios"]) == (1 if row["floor"] else 0), path
    http = [row for row in rows.values() if row["group"] in ("http", "noise")]
    assert all(row["p99_ms"][0] >= row["p50_ms"][0] > 0 for row in http)
    # CPU is counted where the work is: the web rows in Gunicorn, the task rows in the workers.
    assert all(row["cpu_ms"]["gunicorn"][0] > 0 for row in http)
    assert all(row["cpu_ms"]["workers"][0] > 0 for row in rows.values() if row["group"] == "tasks")
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")
    assert "naive: HTTP enqueue through Nginx" in (tmp_path / "bench.md").read_text()
