"""A step is data: a declaration the tests make up, run by the one launcher with either runner,
up, tried, stopped by `kill` or a closed terminal, and nothing left behind. No server needed
(the embedded default). Ctrl-C is tested on the real steps."""

from __future__ import annotations

import re
import signal
import sys
import textwrap
from pathlib import Path

import psutil

from workshop.environment import env_with_venv
from workshop.launcher.background import Background
from workshop.probe import free_port, http_ok
from workshop.waiting import wait_until

LAUNCH = """
import sys
from rich.console import Console
from workshop import steps
from workshop.launcher import run
from workshop.registry import Http, Port, Program, Step

step = Step(
    folder={folder!r},
    title="a web server, declared as data",
    ports=(Port("web", {port}, "TOY_PORT", "toy"),),
    runner={runner!r},
    programs=(Program("web", ready=Http("web", "/")),),
    try_lines=("curl -s localhost:{{TOY_PORT}}/  # {{TOY_GREETING}}",),
    checks=(),
    {extra}
)
steps.STEPS[step.name] = step
sys.exit(run(step, Console(soft_wrap=True)))
"""
SERVER = f"{sys.executable} -m http.server --bind 127.0.0.1"


def toy(tmp_path: Path) -> Path:
    """The made-up step's folder: its name makes it step99."""
    folder = tmp_path / "step99_toy"
    folder.mkdir(exist_ok=True)
    return folder


def launch(tmp_path, runner: str, extra: str = "", **env: str) -> tuple[Background, int]:
    port, folder = free_port(), toy(tmp_path)
    env = env_with_venv(
        {"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path / "run"), **env}
    )
    # A variable of this step's own, with its default (a test may give its own `env=`).
    extra = extra if "env=" in extra else f'env={{"TOY_GREETING": "hello"}}, {extra}'
    script = LAUNCH.format(folder=str(folder), port=port, runner=runner, extra=extra)
    return Background(tmp_path / "launcher.log", env, ["-c", script]), port


def stop_and_check(launcher: Background, port: int, sig: int) -> str:
    code, left = launcher.interrupt(sig)
    log = launcher.text()
    assert code == 0 and left == [], log
    assert "step99 stopped. Start it again with `make step99`." in log
    assert not http_ok(f"http://127.0.0.1:{port}/")
    return log


def test_a_procfile_step_runs_under_honcho_and_stops_on_sigterm(tmp_path):
    (toy(tmp_path) / "Procfile").write_text(
        f"web: echo greeting=$TOY_GREETING && exec {SERVER} $PORT\n"
    )
    launcher, port = launch(tmp_path, "honcho")
    try:
        assert launcher.start(60), launcher.text()
        assert f"curl -s localhost:{port}/  # hello" in launcher.text()
        assert "greeting=hello" in launcher.text(), "the step's own setting reached its process"
        assert http_ok(f"http://127.0.0.1:{port}/")
    finally:
        log = stop_and_check(launcher, port, signal.SIGTERM)  # `kill`
    assert re.search(r"web\.1 +\| .*GET / HTTP", log), "honcho printed the program's log"


def test_a_supervisord_step_restarts_a_program_that_dies_and_stops_on_sighup(tmp_path):
    (toy(tmp_path) / "supervisord.conf").write_text(
        textwrap.dedent(f"""\
            [program:web]
            command={SERVER} %(ENV_TOY_PORT)s
            autorestart=true
            redirect_stderr=true
            stdout_logfile=%(ENV_STEP_LOG_DIR)s/%(program_name)s.log
            """)
    )
    launcher, port = launch(tmp_path, "supervisord")
    try:
        assert launcher.start(60), launcher.text()
        first = next(c for c in psutil.net_connections("tcp") if c.laddr.port == port and c.pid)
        psutil.Process(first.pid).send_signal(signal.SIGKILL)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/"), 30, what="web restarted")
    finally:
        log = stop_and_check(launcher, port, signal.SIGHUP)  # the terminal was closed
    assert "exited: web (terminated by SIGKILL; not expected)" in log
    assert re.search(r"\d\d:\d\d:\d\d web +\| .*GET / HTTP", log), "the follower printed its log"


def test_a_program_that_fails_at_start_stops_the_step_with_status_1(tmp_path):
    (toy(tmp_path) / "Procfile").write_text(f"web: {sys.executable} -c 'raise SystemExit(3)'\n")
    launcher, port = launch(tmp_path, "honcho")
    assert not launcher.start(60)
    assert launcher.popen.wait(30) == 1
    log = launcher.text()
    assert "honcho exited" in log and "read the log lines above" in log, log
    assert "step99 stopped" in log and " is up" not in log


def test_a_mistake_in_supervisord_conf_is_shown_not_swallowed(tmp_path):
    (toy(tmp_path) / "supervisord.conf").write_text(
        f"[program:web]\ncommand={SERVER} %(ENV_NOT_GIVEN)s\n"
    )
    launcher, _ = launch(tmp_path, "supervisord")
    assert not launcher.start(60)
    assert launcher.popen.wait(30) == 1
    assert "ENV_NOT_GIVEN" in launcher.text() and "cannot be expanded" in launcher.text()


def test_before_commands_run_first_and_a_failing_one_stops_the_step(tmp_path):
    (toy(tmp_path) / "Procfile").write_text(f"web: exec {SERVER} $PORT\n")
    failing = 'before=("python -c \\"print(42); raise SystemExit(5)\\"",),'
    launcher, port = launch(tmp_path, "honcho", failing)
    assert not launcher.start(60)
    assert launcher.popen.wait(30) == 1
    log = launcher.text()
    assert "42" in log and "failed (exit 5): read the lines above" in log, log
    assert not http_ok(f"http://127.0.0.1:{port}/") and "honcho" not in log


def test_a_step_env_value_is_a_default_the_learners_own_setting_overrides(tmp_path):
    marker = tmp_path / "before-ran"
    (toy(tmp_path) / "Procfile").write_text(
        f"web: echo debug=$TOY_GREETING && test -f {marker} && exec {SERVER} $PORT\n"
    )
    extra = f'env={{"TOY_GREETING": "from-the-step"}}, before=("touch {marker}",),'
    launcher, port = launch(tmp_path, "honcho", extra, TOY_GREETING="mine")
    try:
        assert launcher.start(60), launcher.text()
        assert "debug=mine" in launcher.text()
    finally:
        stop_and_check(launcher, port, signal.SIGTERM)


def test_supervisords_socket_moves_to_a_short_path_when_the_run_folder_is_deep():
    from workshop.launcher.runners import control_socket

    short = Path("/tmp/run/step02")  # noqa: S108 (a path, never created)
    assert control_socket(short) == short / "supervisor.sock"
    deep = short / ("d" * 60) / ("e" * 60)
    socket = control_socket(deep)
    assert len(str(socket)) < 100 and socket != control_socket(short / "other" / ("e" * 120))
    assert socket == control_socket(deep)  # the same run folder, the same socket
