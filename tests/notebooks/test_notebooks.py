"""The notebooks: committed without outputs, listed in the lessons, and each run top to bottom
in a fresh kernel against the real servers, as "Run all" runs it. Their cells assert what they
show, so a notebook that stops showing its point fails here."""

from __future__ import annotations

import re

import nbformat
import pytest

from workshop import notebooks
from workshop.offline import remote_references
from workshop.settings import ROOT

PATHS = sorted(notebooks.NOTEBOOKS.glob("*.ipynb"))
# What each notebook needs, from its first code cell's notebooks.need(...) call.
NEED = re.compile(r"notebooks\.need\(([^)]*)\)")


def needs(path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    first = next(cell.source for cell in notebook.cells if cell.cell_type == "code")
    found = NEED.search(first)
    assert found, f"{path.name}: its first code cell must call notebooks.need(...)"
    return re.findall(r"[\"']([\w-]+)[\"']", found.group(1))


def test_there_are_seven_notebooks_in_order():
    assert [path.name[:2] for path in PATHS] == [f"{n:02d}" for n in range(1, 8)], PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_the_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (path.name, cell.source)
        assert not cell.get("attachments"), path.name
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}, notebook.metadata


def test_the_readmes_link_the_notebooks():
    top = (ROOT / "README.md").read_text()
    for path in PATHS:
        assert f"notebooks/{path.name}" in top, f"the top README does not list {path.name}"
    for step in (
        "step01_flask_celery",
        "step02_nginx_gunicorn",
        "step03_django_rabbitmq",
        "step04_fastapi_canvas",
    ):
        lesson = (ROOT / step / "README.md").read_text()
        assert "../notebooks/" in lesson, f"{step}/README.md links no notebook"


@pytest.mark.timeout(90)  # each notebook runs in well under 90 s on the 2-core machine
@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_the_notebook_runs_top_to_bottom(path):
    from tests.support.services import require

    require(*needs(path))
    executed = notebooks.execute(path)
    errors = [
        output
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, errors


def test_an_executed_notebook_becomes_a_page_that_loads_nothing_from_the_internet(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(
        cells=[new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]);")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    path = tmp_path / "plot.ipynb"
    nbformat.write(notebook, path)
    page = notebooks.to_html(notebooks.execute(path))
    assert "data:image/png;base64," in page  # the plot, embedded
    assert remote_references(page) == []
