"""`make bench` writes its figures as a Markdown table, JSON and a PNG plot: the writers, fed
a report of the shape the bench measures (the bench itself runs for minutes: `make bench`)."""

from pathlib import Path

from workshop.tools.bench import Row, markdown, plot, ratio


def rows() -> list[Row]:
    floor = Row(
        "floors",
        "naive: HTTP enqueue through Nginx",
        1000.0,
        "requests/s",
        5000,
        p50_ms=15.0,
        p99_ms=30.0,
        cpu_ms={"gunicorn": 1.1, "nginx": 0.1},
    )
    step = Row(
        "http",
        "HTTP enqueue through Nginx, tracing off",
        800.0,
        "requests/s",
        4000,
        floor=floor.path,
        p50_ms=20.0,
        p99_ms=60.0,
        cpu_ms={"gunicorn": 1.8, "wrk": 0.02},
    )
    return [floor, step]


def test_each_path_is_a_ratio_of_its_floor_in_the_table():
    measured = rows()
    ratio(measured)
    assert measured[1].ratio == 0.8 and measured[0].ratio is None
    report = {
        "date": "2026-11-21 21:00 UTC",
        "machine": "2 cores",
        "seconds": 5,
        "tasks": 1000,
        "rows": [vars(row) for row in measured],
    }
    table = markdown(report).splitlines()
    line = next(line for line in table if line.startswith("| HTTP enqueue through Nginx"))
    assert "| 800 requests/s | 0.80x naive: HTTP enqueue through Nginx | 20.0 / 60.0 ms |" in line
    assert "gunicorn 1.80" in line


def test_the_plot_is_a_png(tmp_path: Path):
    measured = rows()
    report = {"date": "2026-11-21", "machine": "2 cores", "rows": [vars(r) for r in measured]}
    plot(report, tmp_path / "bench.png")
    data = (tmp_path / "bench.png").read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
