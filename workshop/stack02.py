"""Files and processes of step 2's local stack, rendered into .run/step02/.

supervisord runs the stack (nginx, gunicorn, two Celery workers, Flower) and restarts any
process that dies, like containers with `restart: unless-stopped`.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from string import Template

from workshop.procs import VENV_BIN
from workshop.settings import ROOT, Settings

STEP = ROOT / "step02_nginx_gunicorn"
PROGRAMS = ("nginx", "gunicorn", "worker1", "worker2", "flower")


@dataclass(frozen=True)
class Ports:
    nginx: int = 8888
    gunicorn: int = 8002
    flower: int = 5555

    @classmethod
    def from_env(cls) -> Ports:
        return cls(
            nginx=int(os.environ.get("NGINX_PORT", cls.nginx)),
            gunicorn=int(os.environ.get("GUNICORN_PORT", cls.gunicorn)),
            flower=int(os.environ.get("FLOWER_PORT", cls.flower)),
        )


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def current(cls) -> Paths:
        return cls(Settings().workshop_run_dir / "step02")

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def nginx(self) -> Path:
        return self.root / "nginx"

    @property
    def access_log(self) -> Path:
        return self.logs / "nginx-access.log"

    @property
    def spans(self) -> Path:
        return self.root / "spans.jsonl"

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def supervisord_pid(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def socket(self) -> Path:
        return self.root / "supervisor.sock"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (
            p
            for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/opt/homebrew/bin/nginx")
            if Path(p).exists()
        ),
        None,
    )


def render_nginx(paths: Paths, ports: Ports) -> Path:
    """The step's nginx.conf template, filled in, inside a main config that needs no root."""
    for folder in (paths.nginx / "tmp", paths.logs):
        folder.mkdir(parents=True, exist_ok=True)
    template = Template((STEP / "nginx.conf").read_text())
    # safe_substitute fills only our names and leaves Nginx's own $variables alone (as envsubst).
    server = template.safe_substitute(
        NGINX_PORT=ports.nginx,
        GUNICORN_UPSTREAM=f"127.0.0.1:{ports.gunicorn}",
        NGINX_ACCESS_LOG=paths.access_log,
    )
    (paths.nginx / "step02.conf").write_text(server)
    user = ""
    if os.geteuid() == 0:  # a root master would switch its workers to a user that may not exist
        nobody = pwd.getpwnam("nobody")
        user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    tmp = paths.nginx / "tmp"
    main = f"""# Rendered by `make step02` from step02_nginx_gunicorn/nginx.conf: edit that one.
{user}
worker_processes 2;
pid {paths.nginx / "nginx.pid"};
error_log {paths.logs / "nginx-error.log"} notice;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {paths.nginx / "step02.conf"};
}}
"""
    conf = paths.nginx / "nginx.conf"
    conf.write_text(main)
    return conf


def worker_names(count: int = 2) -> list[str]:
    """worker1, worker2: WORKER_PREFIX in front lets a second stack share the broker (tests)."""
    prefix = os.environ.get("WORKER_PREFIX", "")
    return [f"{prefix}worker{number}" for number in range(1, count + 1)]


def flower_auth() -> tuple[str, bool]:
    """FLOWER_BASIC_AUTH (user:password) from the environment, or a fresh random one."""
    given = os.environ.get("FLOWER_BASIC_AUTH")
    if given:
        return given, False
    return f"workshop:{secrets.token_urlsafe(9)}", True


def render_supervisord(paths: Paths, ports: Ports, workers: int = 2) -> Path:
    """One [program] per process of the stack, each restarted when it dies."""
    nginx_conf = render_nginx(paths, ports)
    bin_dir = VENV_BIN
    celery = f"{bin_dir / 'celery'} -A step02_nginx_gunicorn.worker"
    programs = {
        # -e: the start-up error log too is ours (the default one under /var/log needs root).
        "nginx": f"{nginx_binary()} -p {paths.nginx} -c {nginx_conf} "
        f"-e {paths.logs / 'nginx-error.log'} -g 'daemon off;'",
        "gunicorn": f"{bin_dir / 'gunicorn'} -c {STEP / 'gunicorn.conf.py'} "
        "step02_nginx_gunicorn.wsgi:app",
        "flower": f"{celery} flower --address=127.0.0.1 --port={ports.flower}",
    }
    for name in worker_names(workers):
        # -E sends task events, which Flower shows; %%h is the host name (%% escapes supervisord).
        programs[name.removeprefix(os.environ.get("WORKER_PREFIX", ""))] = (
            f"{celery} worker --loglevel=INFO --hostname={name}@%%h -E "
            f"--concurrency={os.environ.get('WORKER_CONCURRENCY', '2')}"
        )
    control_password = secrets.token_urlsafe(12)
    sections = [
        f"""; Rendered by `make step02`. supervisord restarts any program that dies.
[supervisord]
nodaemon=true
{"user=root" if os.geteuid() == 0 else ""}
logfile={paths.logs / "supervisord.log"}
logfile_maxbytes=5MB
pidfile={paths.supervisord_pid}
childlogdir={paths.logs}

; supervisorctl -c this-file reads the same password: nobody else controls the stack.
[unix_http_server]
file={paths.socket}
username=workshop
password={control_password}

[supervisorctl]
serverurl=unix://{paths.socket}
username=workshop
password={control_password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""
    ]
    for name, command in programs.items():
        sections.append(f"""[program:{name}]
command={command}
directory={ROOT}
autorestart=true
startsecs=1
startretries=10
stopasgroup=true
killasgroup=true
stopwaitsecs=15
stopsignal={"QUIT" if name == "nginx" else "TERM"}
redirect_stderr=true
stdout_logfile={paths.logs / (name + ".log")}
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=1
""")
    paths.supervisord_conf.write_text("\n".join(sections))
    return paths.supervisord_conf


def create_result_tables(backend_url: str) -> None:
    """Create Celery's result tables once, before several processes race to create them."""
    from celery import Celery

    app = Celery("workshop-prepare", backend=backend_url, set_as_current=False)
    app.conf.result_extended = True
    session = app.backend.ResultSession()
    session.close()
