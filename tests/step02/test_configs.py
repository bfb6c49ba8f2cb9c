"""Step 2's process definitions, lesson files in its folder, as `make step02` fills them in."""

from __future__ import annotations

import os
import re
import subprocess

from tests.support.services import nginx_test
from workshop import steps
from workshop.environment import VENV_BIN, environment
from workshop.launcher import render_templates
from workshop.launcher.runners import Supervisord

STEP = steps.STEPS["step02"]


def prepared(tmp_path) -> Supervisord:
    """The run folder as `make step02` leaves it just before supervisord starts."""
    env = environment(STEP, {**os.environ, "WORKSHOP_MODE": "embedded"}).processes()
    runner = Supervisord(STEP, tmp_path / "step02", env, 8888)
    runner.prepare()
    render_templates(STEP, runner.run_dir, env)
    return runner


def test_the_rendered_local_nginx_config_is_valid(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_RUN_DIR", str(tmp_path))
    for variable, number in (("NGINX_PORT", 18888), ("GUNICORN_PORT", 18002)):
        monkeypatch.setenv(variable, str(number))
    run_dir = prepared(tmp_path).run_dir
    done = nginx_test(run_dir / "nginx" / "nginx.conf")
    assert done.returncode == 0, done.stderr
    rendered = (run_dir / "nginx" / "step02.conf").read_text()
    assert "listen 18888;" in rendered and "server 127.0.0.1:18002;" in rendered
    assert "$request_id" in rendered and not re.search(r"\$\{[A-Z_]+\}", rendered)


def test_supervisord_reads_the_step_programs_with_the_launcher_environment(tmp_path, monkeypatch):
    # What supervisord would run, without running it: its own parser, on the launcher's files.
    monkeypatch.setenv("WORKSHOP_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("WORKER_PREFIX", "t-")
    runner = prepared(tmp_path)
    env = runner.env
    probe = (
        "import sys; from supervisor.options import ServerOptions; o = ServerOptions(); "
        "o.realize(['-c', sys.argv[1]]); "
        "print('\\n'.join(f'{g.name} {p.command}' for g in o.process_group_configs "
        "for p in g.process_configs))"
    )
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-c", probe, str(runner.conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    commands = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert sorted(commands) == sorted(program.name for program in STEP.programs)
    assert "--hostname=t-worker1@%h" in commands["worker1"]
    assert f"--port={env['FLOWER_PORT']}" in commands["flower"]
    assert f"-c {tmp_path}/step02/nginx/nginx.conf" in commands["nginx"]
