"""The docs and the build files agree with each other."""

import re
import tomllib

from tests.support.commands import make
from workshop.settings import ROOT
from workshop.steps import STEPS

MAKEFILE = (ROOT / "Makefile").read_text()
TARGETS = set(re.findall(r"^([a-zA-Z0-9_-]+):", MAKEFILE, re.MULTILINE))
DOCS = [ROOT / "README.md", *sorted(ROOT.glob("step*/README.md"))]


def test_every_make_command_in_the_docs_exists():
    for doc in DOCS:
        for target in re.findall(r"\bmake ([a-z0-9][a-z0-9_-]*)", doc.read_text()):
            assert target in TARGETS, f"{doc.name} mentions `make {target}`, not in the Makefile"


def test_the_readme_lists_exactly_what_make_help_prints():
    helped = make("help").stdout
    readme = (ROOT / "README.md").read_text()
    for line in helped.splitlines():
        assert line.strip() in readme, f"README.md lacks: {line.strip()}"
    assert len(helped.splitlines()) == len(
        [t for t in TARGETS if re.search(rf"^{t}:.*## ", MAKEFILE, re.MULTILINE)]
    )


def test_the_quickstart_is_make_step01_then_make_test():
    quickstart = (ROOT / "README.md").read_text().split("## Quickstart")[1]
    commands = re.findall(r"^make \S+", quickstart, re.MULTILINE)
    assert commands[:2] == ["make step01", "make test"]


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert "make test" in script, "CI runs the README's test command"
    assert "export WORKSHOP_MODE=services" in script
    assert script.index("export WORKSHOP_MODE=services") < script.index("make test")


def test_direct_dependencies_are_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    for requirement in requirements:
        assert "==" in requirement, f"{requirement} is not pinned"
    pins = (ROOT / "constraints.txt").read_text().lower()
    for requirement in requirements:
        pinned = re.sub(r"\[.*\]", "", requirement).lower()  # psycopg[binary]==x: psycopg==x
        assert pinned in pins, f"{requirement} is missing from constraints.txt"


def test_each_lesson_has_a_your_turn_box_per_exercise_with_its_command():
    for step in STEPS.values():
        lesson = (ROOT / step.folder / "README.md").read_text()
        boxes = re.findall(r"^> \*\*Your turn, (\S+): ([^*]+)\*\* \((\d+) min, (\w+)", lesson, re.M)
        assert [box[0] for box in sorted(boxes)] == [ex.id for ex in step.exercises], step.folder
        for exercise_id, title, minutes, kind in boxes:
            ex = next(ex for ex in step.exercises if ex.id == exercise_id)
            expected = (ex.title, ex.minutes, "core" if ex.core else "stretch")
            assert (title, int(minutes), kind) == expected, ex.id
            box = lesson.split(f"**Your turn, {ex.id}:")[1].split("\n\n")[0].replace("\n> ", " ")
            assert f"`make exercise EX={ex.id}`" in box, ex.id
        core = sum(ex.minutes for ex in step.exercises if ex.core)
        assert f"for the lesson, {core} for its core exercises" in " ".join(lesson.split())


def test_each_lesson_says_in_its_time_which_sections_are_optional():
    for step in STEPS.values():
        lesson = (ROOT / step.folder / "README.md").read_text()
        time = " ".join(lesson.split("## Time")[1].split("\n## ")[0].split())
        for number in re.findall(r"^## (\d+)\. .*\(optional\)$", lesson, re.M):
            assert (
                f"section {number} " in time
                or f"section {number}," in time
                or (re.search(rf"sections? [\d, and]*\b{number}\b", time))
            ), f"{step.folder}: its Time section does not name optional section {number}"
