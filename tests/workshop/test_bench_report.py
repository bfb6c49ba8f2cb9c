"""`make bench` writes its figures as one table (terminal and Markdown), JSON and a PNG plot:
the writers, fed rounds of the shape the bench measures (the bench itself runs for minutes)."""

import json
from pathlib import Path

import pytest
from rich.console import Console

from workshop.tools.bench import (
    Row,
    agreement,
    busy_machine,
    changes,
    median_and_spread,
    ratio,
    table,
    write,
)


def rows() -> list[Row]:
    floor = Row("http", "naive: HTTP enqueue through Nginx", "requests/s")
    step = Row("http", "step 2 through Nginx, tracing off", "requests/s", floor.path)
    for naive, mine in ((1000.0, 800.0), (1200.0, 780.0), (900.0, 810.0)):
        floor.add(naive, {"gunicorn": 1.1, "nginx": 0.1}, (15.0, 30.0))
        step.add(mine, {"gunicorn": 1.8, "wrk": 0.02}, (20.0, 60.0))
    return [floor, step]


def report(measured: list[Row]) -> dict:
    return {
        "date": "2026-12-02 10:00 UTC",
        "machine": "2 cores",
        "rounds": 3,
        "seconds": 3,
        "tasks": 500,
        "minutes": 3.5,
        "rows": [vars(row) for row in measured],
    }


def test_a_ratio_is_taken_round_by_round_then_its_median():
    measured = rows()
    ratio(measured)
    assert measured[0].ratios == []
    assert measured[1].ratios == [0.8, 0.65, 0.9]
    assert median_and_spread(measured[1].ratios, ".2f") == "0.80 (0.65–0.90)"
    assert median_and_spread([812.4]) == "812"


def test_a_wide_spread_marks_a_row_unstable():
    floor, step = rows()
    assert floor.unstable  # 900 to 1200 around 1000: 30%
    assert not step.unstable  # 780 to 810 around 800: 4%


def test_the_same_table_in_the_terminal_and_in_markdown(tmp_path: Path):
    measured = rows()
    ratio(measured)
    shown = table(report(measured))
    line = next(row for row in shown.rows if row[0].startswith("step 2 through Nginx"))
    assert line[1] == "800 (780–810) requests/s"
    assert line[2] == "0.80 (0.65–0.90)x naive: HTTP enqueue through Nginx"
    assert line[3] == "20.0 / 60.0" and line[4] == "gunicorn 1.80, wrk 0.02"
    assert "| 1000 (900–1200) requests/s unstable |" in shown.markdown()
    with (tmp_path / "terminal.txt").open("w") as terminal:
        write(report(measured), tmp_path, Console(file=terminal, width=200))
    terminal = (tmp_path / "terminal.txt").read_text()
    markdown = (tmp_path / "bench.md").read_text()
    for cell in line:
        assert cell in terminal and cell in markdown
    data = (tmp_path / "bench.png").read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_each_ratio_is_set_against_the_run_before(tmp_path: Path):
    measured = rows()
    ratio(measured)
    now = report(measured)
    before = json.loads(json.dumps(now))
    before["date"] = "2026-12-02 09:50 UTC"
    before["rows"][1]["ratios"] = [0.6, 0.7, 0.75]  # median 0.70: now 0.80 is +14%
    assert changes(now, before) == pytest.approx(
        {"step 2 through Nginx, tracing off": 0.8 / 0.7 - 1}
    )
    assert (
        agreement(now, before)
        == "Against the run before (2026-12-02 09:50 UTC): all 1 ratios within 15%."
    )
    before["rows"][1]["ratios"] = [0.6]  # now +33%
    assert "1 of 1 ratios moved more than 15%: step 2 through Nginx, tracing off +33%" in agreement(
        now, before
    )
    shown = table(now, before)
    assert shown.columns[3] == "ratio vs the run before"
    assert shown.rows[1][3] == "+33%" and shown.rows[0][3] == ""
    # A run that measured otherwise (QUICK=1) is no comparison.
    before["plan"] = {"rounds": 1}
    assert changes(now, before) == {} and agreement(now, before) == ""
    # write() keeps the comparison in bench.md.
    (tmp_path / "bench-previous.json").write_text(json.dumps({**before, "plan": now.get("plan")}))
    with (tmp_path / "terminal.txt").open("w") as terminal:
        write(now, tmp_path, Console(file=terminal, width=200))
    assert "ratios moved more than 15%" in (tmp_path / "bench.md").read_text()


def test_a_busy_machine_is_said_so():
    measured = rows()
    quiet, busy = (json.loads(json.dumps(report(measured))) for _ in range(2))
    for row in quiet["rows"]:
        row["cpu_ms"] |= {"others_share": [0.02, 0.04], "steal_share": [0.01, 0.01]}
    for row in busy["rows"]:
        row["cpu_ms"] |= {"others_share": [0.30, 0.50], "steal_share": [0.0, 0.0]}
    assert busy_machine(quiet) == (
        "Meanwhile other processes used 3% of the machine (median of the rows, up to 4%); "
        "the hypervisor took 1%."
    )
    assert busy_machine(busy).endswith(
        "The machine was busy: these figures measure it, not the stacks."
    )
    assert busy_machine(report(rows())) == ""  # measured before the bench counted the others
