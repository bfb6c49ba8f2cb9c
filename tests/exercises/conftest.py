"""The exercises' tests (`make verify` runs them for one exercise). Each judges what the lesson
code does, never its text; its name is the sentence `make verify` prints, its assertion's message
what to fix. They run against the files as they are now: the solution in the repository, the
learner's attempt in a classroom."""

from __future__ import annotations

import pytest

from workshop.environment import environment
from workshop.launcher import create_result_tables
from workshop.steps import STEPS


@pytest.fixture
def embedded(monkeypatch, tmp_path):
    """This process gets what `make stepNN` gives a step's processes on the embedded default:
    a broker in a folder, results in SQLite, nothing to start."""

    def given(step: str, **extra: str) -> dict[str, str]:
        variables = {
            **environment(
                STEPS[step], {"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path)}
            ).variables,
            **extra,
        }
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        create_result_tables(variables["CELERY_RESULT_BACKEND"])
        return variables

    return given
