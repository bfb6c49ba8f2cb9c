"""The container path, checked statically (there may be no Docker engine to run it)."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.services import nginx_test
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


# Jobs that run once and exit (the others wait for them to complete successfully).
ONE_OFF = {"step02-history", "step03-broker-setup", "step03-migrate"}


def test_every_service_has_a_healthcheck_and_a_restart_policy():
    for name, service in COMPOSE["services"].items():
        if name in ONE_OFF:
            assert service["restart"] == "no", name
            continue
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name


def test_steps_wait_for_healthy_servers_and_run_in_services_mode():
    steps = {n: s for n, s in COMPOSE["services"].items() if s.get("profiles")}
    assert {"step01-web", "step01-worker"} <= set(steps)
    assert {"step02-web", "step02-nginx", "step02-worker1", "step02-worker2", "step02-flower"} <= (
        set(steps)
    )
    assert {"step03-web", "step03-worker", "step03-blog"} | ONE_OFF <= set(steps)
    assert {"step04-web", "step04-worker", "step04-flower"} <= set(steps)
    for name, service in steps.items():
        for needed, dependency in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if needed in ONE_OFF else "service_healthy"
            assert dependency == {"condition": wanted}, name
        if service.get("build") and name != "step03-blog":  # our image, using the services
            assert service["environment"]["WORKSHOP_MODE"] == "services", name


def test_step02_containers_use_the_same_nginx_template_and_flower_needs_a_password():
    nginx = COMPOSE["services"]["step02-nginx"]
    assert nginx["volumes"] == [
        "./step02_nginx_gunicorn/nginx.conf:/etc/nginx/templates/default.conf.template:ro"
    ]
    flower = COMPOSE["services"]["step02-flower"]["environment"]["FLOWER_BASIC_AUTH"]
    assert flower.startswith("${FLOWER_BASIC_AUTH:?")
    workers = [COMPOSE["services"][f"step02-worker{n}"]["command"] for n in (1, 2)]
    assert "--hostname=worker1@%h" in workers[0] and "--hostname=worker2@%h" in workers[1]


def test_the_template_filled_like_the_nginx_image_does_is_valid(tmp_path):
    # The image runs envsubst with only the variables that are set: Nginx's own stay as they are.
    environment = COMPOSE["services"]["step02-nginx"]["environment"]
    template = (ROOT / "step02_nginx_gunicorn" / "nginx.conf").read_text()
    for name, value in environment.items():
        template = template.replace("${" + name + "}", value)
    template = template.replace("step02-web:8002", "127.0.0.1:8002")  # resolvable here
    template = template.replace("/var/log/nginx/access.log", str(tmp_path / "access.log"))
    (tmp_path / "default.conf").write_text(template)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ client_body_temp_path {tmp_path}/body; "
        f"include {tmp_path}/default.conf; }}\n"
    )
    done = nginx_test(main)
    assert done.returncode == 0, done.stderr


def test_every_variable_compose_reads_is_in_env_example():
    """Each ${VARIABLE} of the compose file is in .env.example: set when compose refuses to run
    without it (`${X:?...}`), at least commented out with its default otherwise."""
    example = (ROOT / ".env.example").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    read = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", compose))
    required = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*):\?", compose))
    assert {"RABBITMQ_PORT", "POSTGRES_PASSWORD"} <= read  # the pattern finds them
    missing = {v for v in read if f"\n{v}=" not in example and f"\n# {v}=" not in example}
    assert not missing, f"not in .env.example: {sorted(missing)}"
    unset = {v for v in required - {"DJANGO_SECRET_KEY"} if f"\n{v}=" not in example}
    assert not unset, f"compose needs these set in .env.example: {sorted(unset)}"


def test_step03_has_its_own_vhost_and_user_and_migrates_before_it_starts():
    services = COMPOSE["services"]
    broker = services["step03-web"]["environment"]["CELERY_BROKER_URL"]
    assert broker.startswith("amqp://${STEP03_RABBITMQ_USER:?") and broker.endswith("/extractor")
    setup = services["step03-broker-setup"]["command"][0]
    for call in (
        "vhosts/extractor",
        "users/$$SCRAPER_USER",
        "permissions/extractor/$$SCRAPER_USER",
    ):
        assert call in setup
    assert services["step03-migrate"]["command"][-2:] == ["migrate", "--noinput"]
    # Migrations load the settings, which check the broker too (services mode).
    assert "step03-broker-setup" in services["step03-migrate"]["depends_on"]
    assert services["step03-web"]["environment"]["DJANGO_SECRET_KEY"].startswith(
        "${DJANGO_SECRET_KEY:?"
    )


def test_the_container_secret_key_is_never_a_shared_default():
    example = (ROOT / ".env.example").read_text()
    assert "\n# DJANGO_SECRET_KEY=\n" in example and "\nDJANGO_SECRET_KEY=" not in example


def test_step04_worker_consumes_both_queues_and_flower_needs_a_password():
    services = COMPOSE["services"]
    worker = services["step04-worker"]["command"]
    assert worker[worker.index("-Q") + 1] == "default,default-sum"
    assert services["step04-web"]["environment"]["CELERY_RESULT_BACKEND"].startswith("redis://")
    flower = services["step04-flower"]["environment"]["FLOWER_BASIC_AUTH"]
    assert flower.startswith("${FLOWER_BASIC_AUTH:?")
