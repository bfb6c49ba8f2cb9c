"""Each step's declaration (workshop/steps/) agrees with its own files and with the docs."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys

import pytest

from workshop import steps
from workshop.launcher import environment, render_templates
from workshop.settings import DEFAULT_PORTS, ROOT

STEPS = list(steps.STEPS.values())


def test_the_registry_finds_every_step_folder():
    folders = sorted(path.name for path in ROOT.glob("step[0-9][0-9]_*") if path.is_dir())
    assert sorted(step.folder for step in STEPS) == folders
    assert [step.name for step in STEPS] == [f"step{folder[4:6]}" for folder in folders]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_the_programs_are_those_of_the_step_process_file(step):
    if step.runner == "honcho":
        lines = (step.path / "Procfile").read_text().splitlines()
        defined = [line.split(":", 1)[0] for line in lines if line.strip()]
    else:
        parser = configparser.RawConfigParser()
        parser.read(step.path / "supervisord.conf")
        defined = [s.removeprefix("program:") for s in parser.sections() if s.startswith("prog")]
    assert [program.name for program in step.programs] == defined
    for program in step.programs:
        port = getattr(program.ready, "port", None)
        assert port is None or port in [p.name for p in step.ports], program


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_every_name_the_step_files_use_is_one_the_launcher_gives(step, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_RUN_DIR", str(tmp_path))
    env = environment(step, steps.settings())
    process_file = step.path / ("supervisord.conf" if step.runner == "supervisord" else "Procfile")
    lines = process_file.read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith((";", "#")))
    # supervisord's %(ENV_NAME)s, or the shell's $NAME and ${NAME:-default} of a Procfile.
    wanted = re.findall(r"%\(ENV_(\w+)\)s|\$\{?([A-Z_]+)", text)
    wanted = [supervisord or shell for supervisord, shell in wanted]
    assert wanted, f"{process_file.name} uses no variable: is this test still reading it?"
    assert [name for name in wanted if name not in env] == []
    render_templates(step, tmp_path / step.name, env)
    for target in step.templates:
        assert not re.search(r"\$\{\w+\}", (tmp_path / step.name / target).read_text()), target


def test_ports_are_one_each_and_none_is_a_server_port():
    ports = [port for step in STEPS for port in step.ports]
    assert len({p.variable for p in ports}) == len(ports)
    assert len({p.default for p in ports}) == len(ports)
    assert not {p.default for p in ports} & {*DEFAULT_PORTS.values(), 15672}


@pytest.mark.parametrize("step", [None, *STEPS], ids=lambda s: s.name if s else "shared")
def test_every_setting_is_documented_in_env_example(step):
    example = (ROOT / ".env.example").read_text()
    for name in steps.model(step).model_fields:
        assert re.search(rf"^#? ?{name.upper()}=", example, re.MULTILINE), name


def test_every_step_has_its_make_targets():
    makefile = (ROOT / "Makefile").read_text()
    for step in STEPS:
        for target in (step.name, f"check-{step.name}", f"{step.name}-docker"):
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_what_the_tools_import_by_name_exists(tmp_path):
    # In a fresh interpreter: importing a step's app changes the environment of the process.
    names = [name for step in STEPS for name in (step.prepare, step.celery_app) if name]
    code = "import sys\nfrom celery.utils.imports import symbol_by_name\n"
    code += "".join(f"symbol_by_name({name!r})\n" for name in names)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
