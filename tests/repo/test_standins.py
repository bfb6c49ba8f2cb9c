"""The stand-ins `make test-docker` runs the container path on, checked statically (the real run
is `make test-docker`, not part of `make test`): the learner's files keep the official images."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from tests.repo.test_containers import COMPOSE
from workshop.settings import ROOT
from workshop.tools import docker_test

BIN = Path(sys.executable).parent
OVERRIDE = yaml.safe_load(docker_test.OVERRIDE.read_text())
STANDINS = sorted(p.parent for p in docker_test.CONTAINERS.glob("*/Dockerfile"))


def test_the_dockerfile_takes_its_base_as_an_argument_whose_default_is_the_official_image():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms == ["FROM ${BASE_IMAGE}"]
    assert lines.index("ARG BASE_IMAGE=python:3.11-slim-bookworm") < lines.index(froms[0])


def test_the_learners_compose_file_names_the_official_images():
    images = {name: s["image"] for name, s in COMPOSE["services"].items() if "image" in s}
    assert images == {
        "rabbitmq": "rabbitmq:4.1-management",
        "redis": "redis:7.4-alpine",
        "postgres": "postgres:17-alpine",
        "step02-nginx": "nginx:1.27-alpine",
        "step03-broker-setup": "curlimages/curl:8.11.1",
    }
    assert "standin" not in (ROOT / "docker-compose.yml").read_text()


def test_the_override_changes_only_images_and_builds_and_covers_every_service():
    services = OVERRIDE["services"]
    assert set(services) == set(COMPOSE["services"])
    for name, service in services.items():
        assert set(service) == {"image", "build"}, name
        if "image" in COMPOSE["services"][name]:  # an official image: a stand-in of our own
            assert service["image"].startswith("workshop-standin/"), name
            assert (ROOT / service["build"] / "Dockerfile").exists(), name
        else:  # the project's image, on the Python stand-in
            assert COMPOSE["services"][name]["build"] == "."
            assert service["build"] == {
                "context": ".",
                "args": {"BASE_IMAGE": docker_test.PYTHON},
            }, name


def test_every_standin_starts_from_the_debootstrapped_base_and_passes_hadolint():
    assert {p.name for p in STANDINS} == {
        "curl",
        "nginx",
        "postgres",
        "python",
        "rabbitmq",
        "redis",
    }
    for folder in STANDINS:
        dockerfile = folder / "Dockerfile"
        assert (
            f"ARG BASE_IMAGE={docker_test.BASE}\nFROM ${{BASE_IMAGE}}\n" in dockerfile.read_text()
        )
        done = subprocess.run(
            [BIN / "hadolint", dockerfile], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for script in folder.glob("*.sh"):
            assert os.access(script, os.X_OK), script


def test_every_published_port_is_a_variable_that_test_docker_sets():
    # So that `make test-docker` never publishes on a port of the machine's own servers.
    published = [p for s in COMPOSE["services"].values() for p in s.get("ports", [])]
    variables = set()
    for port in published:
        found = re.fullmatch(r"\$\{([A-Z0-9_]+):-(\d+)\}:(\d+)", port)
        assert found, port
        variables.add(found[1])
    assert variables == set(docker_test.host_ports())


def test_a_container_url_is_reached_through_its_published_port():
    ports = {("rabbitmq", 5672): 40001, ("postgres", 5432): 40002}
    assert (
        docker_test.on_the_host("amqp://u:p@rabbitmq:5672//", ports)
        == "amqp://u:p@localhost:40001//"
    )
    database = "db+postgresql+psycopg://postgres:pw@postgres/postgres"
    assert docker_test.on_the_host(database, ports).endswith("@localhost:40002/postgres")
    assert docker_test.on_the_host("redis://redis:6379/0", ports) == "redis://redis:6379/0"


def test_the_wait_says_what_it_waits_for_and_ends_at_its_bound(monkeypatch):
    starting = docker_test.Container("c1", "web", "c1", "running", 0, "starting", "", 0, [])
    clock = iter(range(0, 1000, 30))
    monkeypatch.setattr(docker_test, "containers", lambda: [starting])
    monkeypatch.setattr(docker_test.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(docker_test.time, "sleep", lambda seconds: None)
    console = Console(record=True, width=200)
    services = {"web": {"restart": "unless-stopped"}}
    with pytest.raises(docker_test.Failed, match="not healthy after 200 s: web"):
        docker_test.wait_healthy(services, 200, console)
    assert "still waiting for web (starting)" in console.export_text()
    healthy = docker_test.Container("c1", "web", "c1", "running", 0, "healthy", "", 0, [])
    monkeypatch.setattr(docker_test, "containers", lambda: [healthy])
    assert docker_test.wait_healthy(services, 200, console) == [healthy]
