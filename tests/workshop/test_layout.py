"""The shape of the code: support code by job, steps as data that stand alone, no import cycle,
no raw settings in the support code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from workshop.settings import ROOT

PACKAGES = [
    "workshop",
    "step01_flask_celery",
    "step02_nginx_gunicorn",
    "step03_django_rabbitmq",
    "step04_fastapi_canvas",
]
CYCLE_ON_PURPOSE = ROOT / "step01_flask_celery" / "broken"  # the lesson's ImportError


def modules() -> dict[str, Path]:
    """Every first-party module by dotted name (a package by its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if CYCLE_ON_PURPOSE in path.parents:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The first-party modules `path` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from a import b`: the module a.b if there is one, else a.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
                if isinstance(node, ast.ImportFrom):
                    break
    return found


def test_no_import_cycle_outside_the_deliberate_one():
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    # The registry imports every step declaration by name (importlib), not with `import`.
    graph["workshop.steps"] |= {
        name for name in known if re.fullmatch(r"workshop\.steps\.step\d\d", name)
    }
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name], _ = "open", stack.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycle = stack[stack.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        state[name], _ = "done", stack.pop()

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert "workshop.launcher" in graph and "workshop.steps.step02" in graph  # it looked


def test_support_code_is_organised_by_job_not_by_step():
    steps = ROOT / "workshop" / "steps"
    named_after_a_step = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "workshop").rglob("*")
        if (path.suffix == ".py" or path.is_dir() and path.name != "__pycache__")
        and path != steps
        and steps not in path.parents
        and re.search(r"step|\d\d", path.stem)
    ]
    assert named_after_a_step == []


def workshop_imports(path: Path) -> list[int]:
    """The lines of `path` that import the workshop package, at its top or in a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        if any(name == "workshop" or name.startswith("workshop.") for name in names):
            found.append(node.lineno)
    return found


def test_lesson_code_imports_nothing_from_the_workshop(tmp_path):
    lesson = sorted(ROOT.glob("step[0-9][0-9]_*/**/*.py"))
    assert len(lesson) > 40  # it looked: every step, broken/ included
    found = {str(path.relative_to(ROOT)): workshop_imports(path) for path in lesson}
    assert {name: lines for name, lines in found.items() if lines} == {}
    sample = tmp_path / "sample.py"
    sample.write_text("import os\ndef f():\n    from workshop.settings import ROOT\n")
    assert workshop_imports(sample) == [3]


def test_only_the_registry_names_a_step_module():
    steps = ROOT / "workshop" / "steps"
    known = modules()
    for name, path in known.items():
        if name.startswith("workshop.") and steps not in path.parents and path.parent != steps:
            lesson = [m for m in imports(path, known) if not m.startswith("workshop")]
            assert lesson == [], f"{name} imports {lesson}: go through workshop.steps instead"


def environment_reads(path: Path) -> list[int]:
    """Lines that read a variable from os.environ or os.getenv (writing one is fine)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        text = ast.unparse(node)
        reads = (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and text.startswith("os.environ[")
        ) or (isinstance(node, ast.Call) and re.match(r"os\.(environ\.get|getenv)\(", text))
        reads = reads or isinstance(node, ast.Compare) and "in os.environ" in text
        if reads:
            found.append(node.lineno)
    return found


def test_the_support_code_reads_settings_through_its_model():
    # Steps read their variables the way their framework does; the workshop's own code goes
    # through workshop.settings, except the ports, which the registry reads (registry.py).
    for name, path in modules().items():
        if not name.startswith("workshop") or name == "workshop.registry":
            continue
        lines = environment_reads(path)
        assert lines == [], (
            f"{path.relative_to(ROOT)}, lines {lines}, read the environment themselves: "
            "add the variable to workshop.settings.Settings"
        )


def test_the_environment_check_sees_a_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nos.environ['A'] = os.environ.get('B')\nx = os.environ['C']\n")
    assert environment_reads(sample) == [2, 3]
