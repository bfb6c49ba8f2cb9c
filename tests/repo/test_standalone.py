"""A step leaves the repository: its folder alone (step 2 with step 1's, which it wraps), copied
into an empty folder, installed from its own requirements.txt, run with the variables `make env`
prints, completes a task round trip on the embedded default. Nothing of workshop/ is reachable.

The copies run in a virtualenv of their own that sees the workshop's installed packages but not
the workshop itself (its editable install is a .pth file, which that virtualenv never reads).
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from contextlib import ExitStack
from pathlib import Path
from string import Template

import httpx
import pytest
from packaging.requirements import Requirement

from tests.support.commands import workshop
from tests.support.processes import Process
from tests.support.tasks import wait_for
from workshop.environment import env_with_venv
from workshop.probe import find_binary, free_port, http_ok
from workshop.settings import ROOT
from workshop.steps import STEPS
from workshop.waiting import wait_until

FOLDERS = {name: [step.folder] for name, step in STEPS.items()}
FOLDERS["step02"] = ["step01_flask_celery", "step02_nginx_gunicorn"]


def pins() -> dict[str, str]:
    """The workshop's own pins, by distribution name (constraints.txt)."""
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            found[canonical(name)] = version.strip()
    return found


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(folder: Path) -> list[Requirement]:
    """A requirements.txt, with the files it includes (-r)."""
    found = []
    for line in (folder / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            found += requirements((folder / line[3:]).resolve().parent)
        elif line and not line.startswith("#"):
            found.append(Requirement(line))
    return found


def imported(folder: Path) -> set[str]:
    """The top-level modules a step folder imports, other than the standard library's and its
    own (or step 1's)."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and not n.startswith("step0")}


@pytest.mark.parametrize("name", STEPS, ids=str)
def test_each_step_lists_what_it_needs_with_the_workshops_pins(name):
    from importlib.metadata import packages_distributions

    folder = STEPS[name].path
    listed = {canonical(r.name): r for r in requirements(folder)}
    known = pins()
    for requirement in listed.values():
        assert str(requirement.specifier).startswith("=="), f"{requirement} is not pinned"
        version = str(requirement.specifier)[2:]
        assert known.get(canonical(requirement.name)) == version, f"{requirement} vs constraints"
    distributions = packages_distributions()
    for module in sorted(imported(folder)):
        offered = {canonical(d) for d in distributions[module]}
        assert offered & set(listed), f"{name} imports {module}: list one of {sorted(offered)}"


def lite_venv(folder: Path) -> Path:
    """A virtualenv that sees this one's installed packages, not its .pth files: no workshop."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    purelib = Path(
        sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)})
    )
    (purelib / "workshop-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return folder / "bin" / "python"


def exports(step: str, run_dir: Path) -> dict[str, str]:
    """What `make env STEP=...` prints for the embedded default, read as a shell would."""
    ports = {port.variable: str(free_port()) for port in STEPS[step].ports}
    given = {"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(run_dir), **ports}
    done = workshop("env", step, env=env_with_venv(given))
    assert done.returncode == 0, done.stdout + done.stderr
    found = {}
    for line in done.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = shlex.split(value)[0] if value else ""
    return found


class Copied:
    """The copied folders, their virtualenv, and the processes a learner would start."""

    def __init__(self, step: str, tmp_path: Path, cleanup: ExitStack):
        self.project = tmp_path / "project"
        self.project.mkdir()
        for folder in FOLDERS[step]:
            shutil.copytree(ROOT / folder, self.project / folder)
        self.python = lite_venv(tmp_path / "venv")
        self.variables = exports(step, tmp_path / "run")
        self.env = {
            "PATH": f"{self.python.parent}{os.pathsep}/usr/bin:/bin:/usr/sbin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(self.project),  # the copied folders, nothing else
            **self.variables,
        }
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.cleanup = cleanup

    def run(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(self.python), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def start(self, name: str, *args: str, program: str | None = None) -> Process:
        argv = [program] if program else [str(self.python)]
        process = Process(name, [*argv, *args], self.logs, self.env, self.project)
        self.cleanup.callback(process.kill)
        return process

    def url(self, variable: str) -> str:
        return f"http://127.0.0.1:{self.variables[variable]}"

    def wait_up(self, url: str, *processes: Process) -> None:
        def up() -> bool:
            for process in processes:
                if not process.alive():
                    raise AssertionError(f"{process.name} exited:\n{process.log()}")
            return http_ok(url)

        wait_until(up, 60, what=f"{url} answering")


def celery_worker(copied: Copied, app: str, *options: str) -> Process:
    process = copied.start(
        "worker",
        "-m",
        "celery",
        "-A",
        app,
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        *options,
    )
    process.wait_for_log("ready.", timeout=60)
    return process


def round_trip(url: str, path: str, body: dict, timeout: float = 60) -> dict:
    with httpx.Client(base_url=url, timeout=10) as client:
        answer = client.post(path, json=body)
        assert answer.status_code == 202, answer.text
        status = answer.json().get("status_url") or answer.json()["result_url"]
        return wait_for(client, status, timeout).json()


def test_nothing_of_the_workshop_is_reachable_from_a_copy(tmp_path):
    with ExitStack() as cleanup:
        copied = Copied("step01", tmp_path, cleanup)
        done = subprocess.run(
            [str(copied.python), "-c", "import workshop"],
            cwd=copied.project,
            env=copied.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1 and "No module named 'workshop'" in done.stderr
    assert sorted(path.name for path in copied.project.iterdir()) == ["step01_flask_celery"]


def test_step01_alone(tmp_path):
    with ExitStack() as cleanup:
        copied = Copied("step01", tmp_path, cleanup)
        web = copied.start(
            "web", "-m", "flask", "--app", "step01_flask_celery.app", "run",
            "--port", copied.variables["PORT"],
        )  # fmt: skip
        worker = celery_worker(copied, "step01_flask_celery.worker")
        copied.wait_up(copied.url("PORT") + "/health", web, worker)
        done = round_trip(copied.url("PORT"), "/api/process_data", {"seconds": 0.1})
    assert done["state"] == "SUCCESS" and done["result"]["app"] == "step01_flask_celery.app"


@pytest.mark.needs("nginx")
def test_step02_alone_with_step01(tmp_path):
    with ExitStack() as cleanup:
        copied = Copied("step02", tmp_path, cleanup)
        copied.run("-m", "step02_nginx_gunicorn.history")  # creates its table
        gunicorn = copied.start(
            "gunicorn", "-m", "gunicorn", "-c", "step02_nginx_gunicorn/gunicorn.conf.py",
            "step02_nginx_gunicorn.wsgi:app",
        )  # fmt: skip
        worker = celery_worker(copied, "step02_nginx_gunicorn.worker")
        # The templates filled as envsubst (or the nginx image) does, from the same variables.
        nginx_dir = Path(copied.variables["STEP_RUN_DIR"]) / "nginx"
        nginx_dir.mkdir(parents=True)
        Path(copied.variables["STEP_LOG_DIR"]).mkdir(parents=True)
        folder = copied.project / "step02_nginx_gunicorn"
        for source, target in (("nginx-main.conf", "nginx.conf"), ("nginx.conf", "step02.conf")):
            text = Template((folder / source).read_text()).safe_substitute(copied.variables)
            (nginx_dir / target).write_text(text)
        nginx = copied.start(
            "nginx", "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf"),
            "-g", "daemon off;", program=find_binary("nginx"),
        )  # fmt: skip
        front = copied.url("NGINX_PORT")
        copied.wait_up(front + "/health", gunicorn, worker, nginx)
        done = round_trip(front, "/api/process_data", {"seconds": 0.1})
    assert done["state"] == "SUCCESS" and done["result"]["worker"].endswith(f"@{os.uname()[1]}")
    assert (Path(copied.variables["SPANS_FILE"])).exists(), "the spans were written"


def test_step03_alone(tmp_path):
    with ExitStack() as cleanup:
        copied = Copied("step03", tmp_path, cleanup)
        manage = "step03_django_rabbitmq/manage.py"
        copied.run(manage, "migrate", "--noinput")
        blog = copied.start(
            "blog", "-m", "gunicorn", "--bind", f"127.0.0.1:{copied.variables['DEMO_BLOG_PORT']}",
            "step03_django_rabbitmq.demo_blog.app:app",
        )  # fmt: skip
        web = copied.start(
            "web", "-m", "gunicorn", "-c", "step03_django_rabbitmq/gunicorn.conf.py",
            "step03_django_rabbitmq.project.wsgi",
        )  # fmt: skip
        worker = celery_worker(copied, "step03_django_rabbitmq.project")
        copied.wait_up(copied.url("DJANGO_PORT") + "/health", blog, web, worker)
        done = round_trip(copied.url("DJANGO_PORT"), "/api/scrape", {}, timeout=90)
        # Then beat, on a short schedule: it starts a scrape of its own.
        copied.env["SCRAPE_EVERY"] = "1"
        copied.start("beat", "-m", "celery", "-A", "step03_django_rabbitmq.project", "beat")
        schedule = copied.url("DJANGO_PORT") + "/api/schedule"
        scheduled = wait_until(
            lambda: httpx.get(schedule, timeout=5).json()["last_scheduled_scrape"], 60
        )
    assert done["state"] == "SUCCESS" and done["result"]["created"] > 10, done
    assert scheduled["task_id"]


def test_step04_alone(tmp_path):
    with ExitStack() as cleanup:
        copied = Copied("step04", tmp_path, cleanup)
        port = copied.variables["FASTAPI_PORT"]
        web = copied.start("web", "-m", "uvicorn", "step04_fastapi_canvas.main:app", "--port", port)
        queue = copied.variables["CELERY_TASK_DEFAULT_QUEUE"]
        worker = celery_worker(copied, "step04_fastapi_canvas.celery_app", f"-Q{queue},{queue}-sum")
        copied.wait_up(copied.url("FASTAPI_PORT") + "/health", web, worker)
        done = round_trip(copied.url("FASTAPI_PORT"), "/workflows/chord", {"a": 3, "b": 4})
    assert done["result"] == {"results": [7, 12], "total": 19}, done
