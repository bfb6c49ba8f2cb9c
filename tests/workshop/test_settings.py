"""WORKSHOP_MODE: real services when they answer, the embedded default otherwise, never silently."""

import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.commands import workshop
from workshop.environment import env_with_venv
from workshop.probe import free_port
from workshop.services import ServiceUnavailable, choose, choose_services
from workshop.settings import Settings, endpoint, safe_url, scheme
from workshop.tools.doctor import TESTED


def closed_url() -> str:
    return f"amqp://guest:secret@127.0.0.1:{free_port()}//"


def test_scheme_and_endpoint_of_each_kind_of_url():
    assert scheme("db+postgresql+psycopg://u@h/db") == "postgresql"
    assert endpoint("amqp://guest:guest@rabbit//") == ("rabbit", 5672)
    assert endpoint("redis://localhost:6380/0") == ("localhost", 6380)
    assert endpoint("db+postgresql://u@db:5433/x") == ("db", 5433)
    assert endpoint("filesystem://") is None
    assert endpoint("db+sqlite:///x.sqlite") is None


def test_passwords_never_show():
    assert "secret" not in safe_url(closed_url())


def test_auto_falls_back_to_the_embedded_default_and_says_why():
    url = closed_url()
    service = choose("broker", url, "filesystem://", "auto")
    assert service.embedded and service.url == "filesystem://"
    assert f":{endpoint(url)[1]}" in service.why


def test_services_mode_names_the_url_and_the_fix():
    with pytest.raises(ServiceUnavailable) as error:
        choose("broker", closed_url(), "filesystem://", "services")
    message = str(error.value)
    assert "127.0.0.1" in message and "make services" in message and "secret" not in message


def test_embedded_mode_never_touches_the_network():
    service = choose("broker", closed_url(), "filesystem://", "embedded")
    assert service.embedded and service.why == "WORKSHOP_MODE=embedded"


def test_embedded_variables_and_banner(tmp_path):
    settings = Settings.of({"WORKSHOP_MODE": "embedded", "WORKSHOP_RUN_DIR": str(tmp_path)})
    services = choose_services(settings)
    assert services.variables() == {
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{tmp_path / 'results.sqlite'}",
        "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
    }
    banner = services.banner()
    assert banner.startswith("EMBEDDED DEFAULT IN USE") and "make services" in banner


def test_a_server_that_answers_is_used_as_is():
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"amqp://guest:guest@127.0.0.1:{server.getsockname()[1]}//"
        for mode in ("auto", "services"):
            service = choose("broker", url, "filesystem://", mode)
            assert service.url == url and not service.embedded


def test_explicit_embedded_urls_are_used_as_given_and_still_announced(tmp_path):
    settings = Settings.of(
        {
            "WORKSHOP_MODE": "services",
            "WORKSHOP_RUN_DIR": str(tmp_path),
            "CELERY_BROKER_URL": "filesystem://",
            "CELERY_RESULT_BACKEND": "db+sqlite:///results.sqlite",
        }
    )
    services = choose_services(settings)
    assert services.broker.url == "filesystem://" and services.broker.embedded
    assert "set by CELERY_BROKER_URL" in services.banner()


def test_a_bad_value_is_one_clear_line_whatever_the_command():
    for variable, value, words in (
        ("NGINX_PORT", "88a", "not a port number (1 to 65535)"),
        ("WORKER_CONCURRENCY", "0", "greater than or equal to 1"),
    ):
        done = workshop("doctor", env=env_with_venv({variable: value}))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith(f"✗ {variable}='{value}': ") and words in done.stderr


def test_doctor_says_what_each_operating_system_needs():
    from workshop.tools.doctor import operating_system

    present, what, detail, fix = operating_system("Windows")
    assert not present and "does not support Windows" in detail
    assert "WSL 2" in fix and "--pool=solo" in fix
    present, what, detail, _ = operating_system("Darwin")
    assert present and "OBJC_DISABLE_INITIALIZE_FORK_SAFETY=YES" in detail
    assert operating_system("Linux")[0]
    done = workshop("doctor", env=env_with_venv())
    assert f"✓ {platform.system()}: " in done.stdout, done.stdout


def test_doctor_says_whether_this_python_is_one_the_workshop_is_tested_on():
    from workshop.tools.doctor import TESTED, python_version

    assert python_version((3, 12, 1))[0] and "tested on (3.11, 3.12, 3.13)" in python_version()[2]
    present, _, detail, fix = python_version((3, 10, 13))
    assert not present and "too old" in detail and "make setup PYTHON=python3.13" in fix
    present, _, detail, fix = python_version((3, 14, 0))
    assert not present and "newer than the workshop is tested on" in detail
    assert "it may work" in fix
    done = workshop("doctor", env=env_with_venv())
    version = ".".join(map(str, sys.version_info[:3]))
    assert f"✓ Python: {version}, one the workshop is tested on" in done.stdout, done.stdout
    assert sys.version_info[:2] in TESTED


def test_a_subprocess_writes_no_colour_even_when_a_kernel_asks_for_it(tmp_path):
    """A Jupyter kernel sets FORCE_COLOR=1; Python 3.13 then colours a traceback even into a
    pipe. Every interpreter the workshop is tested on that this machine has, found, not fetched."""
    found = [shutil.which(f"python{major}.{minor}") for major, minor in TESTED]
    pyenv = Path.home() / ".pyenv" / "versions"
    found += [str(p) for p in pyenv.glob("3.1[1-3]*/bin/python3")] if pyenv.is_dir() else []
    # Not pyenv's shims: a shim runs only the version pyenv has chosen.
    interpreters = {Path(p).resolve() for p in found if p and "/shims/" not in p}
    assert interpreters, "no Python 3.11 to 3.13 found"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FORCE_COLOR", "1")
        env = env_with_venv()
    for python in interpreters:
        done = subprocess.run(
            [str(python), "-c", "import missing_module_for_this_test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("ModuleNotFoundError"), f"{python}: {last!r}"
        assert "\x1b[" not in done.stderr, f"{python} wrote colour codes: {done.stderr!r}"
