"""The container path, checked statically (there may be no Docker engine to run it)."""

import subprocess
import sys
from pathlib import Path

import yaml

from workshop.settings import ROOT

BIN = Path(sys.executable).parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification():
    done = subprocess.run(
        [
            BIN / "check-jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            ROOT / "docker-compose.yml",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_passes_hadolint():
    done = subprocess.run(
        [BIN / "hadolint", ROOT / "Dockerfile"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_obsolete_version_key_and_no_guest_account():
    assert "version" not in COMPOSE
    text = (ROOT / "docker-compose.yml").read_text()
    assert "guest" not in text
    rabbit = COMPOSE["services"]["rabbitmq"]["environment"]
    assert rabbit["RABBITMQ_DEFAULT_USER"].startswith("${RABBITMQ_USER:?")
    assert rabbit["RABBITMQ_DEFAULT_PASS"].startswith("${RABBITMQ_PASSWORD:?")


def test_every_service_has_a_healthcheck_and_a_restart_policy():
    for name, service in COMPOSE["services"].items():
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name


def test_steps_wait_for_healthy_servers_and_run_in_services_mode():
    steps = {n: s for n, s in COMPOSE["services"].items() if s.get("profiles")}
    assert {"step01-web", "step01-worker"} <= set(steps)
    for name, service in steps.items():
        for dependency in service["depends_on"].values():
            assert dependency == {"condition": "service_healthy"}, name
        assert service["environment"]["WORKSHOP_MODE"] == "services", name


def test_every_variable_compose_needs_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    for variable in ("RABBITMQ_USER", "RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "TASK_SECONDS"):
        assert f"\n{variable}=" in example, variable
