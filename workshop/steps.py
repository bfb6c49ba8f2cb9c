"""What each step runs and where it listens: read by `run`, `check` and the tests."""

from dataclasses import dataclass, field

from workshop.settings import ROOT


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    folder: str
    port: int
    try_lines: list[str] = field(default_factory=list)

    @property
    def procfile(self):
        return ROOT / self.folder / "Procfile"


STEPS = {
    "step01": Step(
        name="step01",
        title="Flask + Celery",
        folder="step01_flask_celery",
        port=8000,
        try_lines=[
            "curl -s -X POST localhost:{port}/api/process_data "
            "-H 'Content-Type: application/json' -d '{{\"seconds\": 2}}'",
            "curl -s localhost:{port}/api/tasks/<task_id>",
            "curl -s localhost:{port}/health",
            "make check-step01   # verifies every hop",
        ],
    ),
    "step02": Step(
        name="step02", title="Nginx + Gunicorn + Celery", folder="step02_nginx_gunicorn", port=8888
    ),
}
