"""The Django project itself: the Celery app it binds tasks to (and the trap without the
re-export), production settings that pass `check --deploy`, migrations that match the models."""

from __future__ import annotations

import secrets
import subprocess

from workshop.environment import VENV_BIN, env_with_venv
from workshop.settings import ROOT

MANAGE = ["step03_django_rabbitmq/manage.py"]


def python(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "python"), *args],
        cwd=ROOT,
        env=env_with_venv(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tasks_use_the_project_app_configured_from_settings():
    done = python("-m", "step03_django_rabbitmq.which_app")
    assert done.returncode == 0, done.stderr
    assert "bound to the Celery app 'project'" in done.stdout
    assert "result backend: django-db\n  default queue:  scraper\n" in done.stdout
    assert "apply_async_on_commit: yes\nsettings.py says:" in done.stdout


def test_without_the_reexport_tasks_fall_back_to_celerys_default_app():
    done = python("-m", "step03_django_rabbitmq.which_app", "--without-reexport")
    assert done.returncode == 0, done.stderr
    app, settings = done.stdout.split("settings.py says:")
    # The settings' result backend and queue are not the default app's.
    assert "Celery app 'default'" in app and "amqp://guest:**@localhost:5672//" in app
    assert "none (results are not stored)" in app and "default queue:  celery" in app
    assert "apply_async_on_commit: no" in app  # the view would fail with AttributeError
    assert "django-db" in settings and "default queue:  scraper" in settings


def test_production_settings_pass_check_deploy():
    done = python(
        *MANAGE,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_HTTPS="true",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="scraper.example.org",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_catches_debug_left_on():
    done = python(*MANAGE, "check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="true")
    assert done.returncode != 0 and "security.W018" in done.stdout + done.stderr


def test_the_migrations_match_the_models():
    done = python(*MANAGE, "makemigrations", "--check", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr


def test_processes_started_at_once_share_one_secret_key(tmp_path):
    # The web process and the worker may start together on a fresh clone: one key, no error.
    code = (
        "import django, hashlib; django.setup(); from django.conf import settings; "
        "print(hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest()[:12])"
    )
    env = env_with_venv(
        {
            "DJANGO_SETTINGS_MODULE": "step03_django_rabbitmq.project.settings",
            "STEP_RUN_DIR": str(tmp_path),
        }
    )
    started = [
        subprocess.Popen(
            [str(VENV_BIN / "python"), "-c", code],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    answers = [process.communicate(timeout=60) for process in started]
    assert all(process.returncode == 0 for process in started), answers
    assert len({out for out, _ in answers}) == 1
    assert oct((tmp_path / "django-key").stat().st_mode)[-3:] == "600"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["django-key", "static"]


def test_the_lesson_shows_what_which_app_prints():
    """The README's sample is the real output (without the step's variables, as it says)."""
    command = "$ .venv/bin/python -m step03_django_rabbitmq.which_app --without-reexport\n"
    lesson = (ROOT / "step03_django_rabbitmq" / "README.md").read_text()
    sample = lesson.split(command)[1].split("```")[0]
    environ = {k: v for k, v in env_with_venv().items() if not k.startswith(("CELERY_", "DATA"))}
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "step03_django_rabbitmq.which_app", "--without-reexport"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == sample
