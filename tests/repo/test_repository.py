"""The docs and the build files agree with each other."""

import re
import tomllib

from tests.support.commands import make
from workshop.settings import ROOT

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
    assert script[-1] == "make test"
    assert "export WORKSHOP_MODE=services" in script


def test_direct_dependencies_are_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    for requirement in requirements:
        assert "==" in requirement, f"{requirement} is not pinned"
    pins = (ROOT / "constraints.txt").read_text().lower()
    for requirement in requirements:
        pinned = re.sub(r"\[.*\]", "", requirement).lower()  # psycopg[binary]==x: psycopg==x
        assert pinned in pins, f"{requirement} is missing from constraints.txt"
