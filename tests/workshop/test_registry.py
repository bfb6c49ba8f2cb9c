"""Each step's declaration (workshop/steps/) agrees with its own files and with the docs."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys

import pytest

from workshop import steps
from workshop.environment import environment
from workshop.launcher import render_templates
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
def test_every_name_the_step_files_use_is_one_the_launcher_gives(step, tmp_path):
    env = environment(step, {"WORKSHOP_RUN_DIR": str(tmp_path), "WORKSHOP_MODE": "embedded"})
    env = env.variables
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


def variables_read(step) -> set[str]:
    """Every variable a step's own code and process files read: os.environ.get("X"),
    os.environ["X"], env_list("X"), a pydantic-settings field, %(ENV_X)s and ${X}."""
    found = set()
    for path in step.path.rglob("*"):
        if path.suffix == ".py":
            text = path.read_text()
            # os.environ.get("X"), os.environ["X"], and a helper of its own: env_bool("X").
            found |= set(
                re.findall(r"(?:environ\.get\(|environ\[|env_\w+\()\s*\"([A-Z_]+)\"", text)
            )
            if "BaseSettings" in text:
                found |= {n.upper() for n in re.findall(r"^    ([a-z_]+): ", text, re.MULTILINE)}
        elif path.name == "Procfile" or path.suffix == ".conf":
            lines = path.read_text().splitlines()
            text = "\n".join(line for line in lines if not line.lstrip().startswith((";", "#")))
            found |= set(re.findall(r"%\(ENV_(\w+)\)s|\$\{?([A-Z_]+)", text))
    return {name for pair in found for name in ([pair] if isinstance(pair, str) else pair) if name}


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_every_variable_a_step_reads_is_documented_in_env_example(step):
    example = (ROOT / ".env.example").read_text()
    read = variables_read(step)
    assert {"WORKER_CONCURRENCY", "CELERY_TASK_DEFAULT_QUEUE"} & read  # it looked
    # Set by the launcher for its own files (rendered templates, run folders): not the learner's.
    own = {"STEP_RUN_DIR", "STEP_LOG_DIR", "NGINX_USER", "GUNICORN_UPSTREAM", "NGINX_ACCESS_LOG"}
    for name in sorted(read - own):
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), name


def test_every_setting_of_the_workshop_is_documented_in_env_example():
    from workshop.settings import Settings

    example = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert re.search(rf"^#? ?{name.upper()}=", example, re.MULTILINE), name


def test_every_step_has_its_make_targets():
    makefile = (ROOT / "Makefile").read_text()
    for step in STEPS:
        for target in (step.name, f"check-{step.name}", f"{step.name}-docker"):
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_the_declared_queue_is_the_one_the_step_code_uses(step, tmp_path):
    # In a fresh interpreter with no queue set: the step's own default, as its code says.
    code = {
        "step01": "from step01_flask_celery.worker import celery_app as app",
        "step02": "from step02_nginx_gunicorn.worker import celery_app as app",
        "step03": "import django; django.setup(); from step03_django_rabbitmq.project import "
        "celery_app as app",
        "step04": "from step04_fastapi_canvas.celery_app import celery_app as app",
    }[step.name]
    env = {
        "DJANGO_SETTINGS_MODULE": "step03_django_rabbitmq.project.settings",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{tmp_path}/results.sqlite",
        "DATABASE_URL": f"sqlite:///{tmp_path}/django.sqlite3",
        "STEP_RUN_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", f"{code}; print(app.conf.task_default_queue)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [step.queue]


def test_a_bad_port_is_one_clear_line(tmp_path):
    step = steps.STEPS["step02"]
    with pytest.raises(ValueError, match=r"NGINX_PORT='88a': not a port number"):
        step.port_numbers({"NGINX_PORT": "88a"})
    assert step.port_numbers({"NGINX_PORT": "9000"})["nginx"] == 9000
