"""The two ways a step's programs run: honcho reads a Procfile (step 1, where one process that
exits stops them all), supervisord reads a supervisord.conf (step 2 on, where a process that
dies is started again and the rest keep serving). Both read the step's own file, in its folder.
"""

from __future__ import annotations

import abc
import hashlib
import os
import secrets
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil

from workshop.environment import VENV_BIN
from workshop.launcher.follow import Follow
from workshop.launcher.processes import descendants, stop_tree
from workshop.registry import Step
from workshop.settings import ROOT


class Runner(abc.ABC):
    """What the launcher asks of a process manager: start the step's programs in a session of
    their own, and stop them all."""

    def __init__(self, step: Step, run_dir: Path, env: dict[str, str], port: int):
        self.step, self.run_dir, self.env, self.port = step, run_dir, env, port
        self.logs = run_dir / "logs"

    def prepare(self) -> None:
        """What must be ready before the programs start (and before their logs are followed):
        the step's run folder (.run/stepNN/) and its logs/."""
        self.logs.mkdir(parents=True, exist_ok=True)

    @abc.abstractmethod
    def start(self) -> subprocess.Popen:
        """Start the process manager (its pid is the step's top process)."""

    def follow(self) -> Follow | None:
        """A thread that prints the programs' logs, when they do not reach the terminal."""
        return None

    @abc.abstractmethod
    def stop(self, top: subprocess.Popen, known: list[psutil.Process]) -> list[int]:
        """Stop every program, then anything left (stop_tree); the pids that had to be killed."""

    def restart(self, top: subprocess.Popen) -> subprocess.Popen:
        """Every program again, with the code as it is now; the new top process."""
        self.stop(top, descendants(top.pid))
        return self.start()


class Honcho(Runner):
    def start(self) -> subprocess.Popen:
        procfile = self.step.path / "Procfile"
        honcho = [str(VENV_BIN / "honcho"), "-f", str(procfile), "-d", str(ROOT), "start"]
        # honcho prints the programs' output, prefixed and coloured, straight to this terminal.
        return subprocess.Popen(
            [*honcho, "-p", str(self.port)], env=self.env, start_new_session=True
        )

    def stop(self, top: subprocess.Popen, known: list[psutil.Process]) -> list[int]:
        """honcho signals whole process groups, and a Celery worker's pool processes are in its
        group: they would die under the worker's feet. So each program (honcho -> sh -c ->
        program) is asked first, workers (the programs with children) before the rest; a worker
        then does its warm shutdown and stops its own pool. Then honcho gets Ctrl-C."""
        programs = []
        for process in known:
            try:
                if process.parent().name() in ("sh", "dash", "bash"):
                    programs.append((not process.children(), process))
            except psutil.NoSuchProcess:
                continue
        first = [program for _, program in sorted(programs, key=lambda p: p[0])]
        return stop_tree(top, signal.SIGINT, timeout=20, first=first, known=known)


class Supervisord(Runner):
    @property
    def conf(self) -> Path:
        return self.run_dir / "supervisord.conf"

    def prepare(self) -> None:
        super().prepare()
        for log in self.log_files().values():  # this run's lines only
            log.unlink(missing_ok=True)
        self.write_conf()

    def start(self) -> subprocess.Popen:
        # supervisord writes its log file, which the launcher follows. What it says before it
        # opens that file (a mistake in supervisord.conf) goes to stderr: into the same file.
        with (self.logs / "supervisord.log").open("ab") as early:
            return subprocess.Popen(
                [str(VENV_BIN / "supervisord"), "-c", str(self.conf)],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=early,
                start_new_session=True,
            )

    def write_conf(self) -> None:
        """supervisord's own settings for this run, around the step's program list."""
        password = secrets.token_urlsafe(12)
        socket = control_socket(self.run_dir)
        # As root, say so: otherwise supervisord warns about it at every start.
        user = "user=root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(f"""\
; Written by `make {self.step.name}` for this run. The programs are in
; {self.step.folder}/supervisord.conf: edit that one.
[supervisord]
; In the foreground: the launcher is its parent, and stops it on Ctrl-C.
nodaemon=true
{user}logfile={self.logs / "supervisord.log"}
logfile_maxbytes=5MB
pidfile={self.run_dir / "supervisord.pid"}
childlogdir={self.logs}

; `supervisorctl -c {self.conf}` reads the same password: nobody else controls the stack.
[unix_http_server]
file={socket}
username=workshop
password={password}

[supervisorctl]
serverurl=unix://{socket}
username=workshop
password={password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[include]
files={self.step.path / "supervisord.conf"}
""")

    def log_files(self) -> dict[str, Path]:
        names = ["supervisord", *(program.name for program in self.step.programs)]
        return {name: self.logs / f"{name}.log" for name in names}

    def follow(self) -> Follow:
        return Follow(self.log_files())

    def restart(self, top: subprocess.Popen) -> subprocess.Popen:
        """supervisord restarts its programs, each the way it stops it (a warm shutdown)."""
        subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(self.conf), "restart", "all"],
            capture_output=True,
            timeout=120,
        )
        return top

    def stop(self, top: subprocess.Popen, known: list[psutil.Process]) -> list[int]:
        """supervisord stops every program (its stopsignal, then KILL after stopwaitsecs)."""
        return stop_tree(top, signal.SIGTERM, timeout=40, known=known)


RUNNERS: dict[str, type[Runner]] = {"honcho": Honcho, "supervisord": Supervisord}


def control_socket(run_dir: Path) -> Path:
    """supervisord's control socket: in the run folder, unless that path is too long for a Unix
    socket (108 bytes: a deep checkout, a test's folder); then a short one in the temporary
    folder, named after the run folder."""
    path = run_dir / "supervisor.sock"
    if len(os.fsencode(path)) < 100:
        return path
    digest = hashlib.sha256(os.fsencode(run_dir.resolve())).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"workshop-supervisor-{digest}.sock"
