"""`python -m workshop test-docker` (`make test-docker`): the container path, run for real.

For each compose profile (step01 to step04): `up` on local stand-ins of the official images,
a bounded wait until every service is healthy (and every one-off job has exited 0), the step's
own checks from the host through the published ports (each one sends tasks and polls them to
SUCCESS), then `down -v`. Nothing is pulled: the images are built here, on a Debian bookworm
root made with debootstrap from the machine's Debian mirror (workshop/containers/).

    python -m workshop test-docker                  every profile
    python -m workshop test-docker step02 --keep    one, left running (then `down -v` yourself)

Host ports are free ones, picked for the run: the machine's own RabbitMQ, Redis and PostgreSQL
keep theirs. When a profile fails, every container's log is kept in build/docker-test/<step>/.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import yaml
from rich.console import Console

from workshop import steps
from workshop.checks import Context, Stop, Verdicts
from workshop.environment import StepEnvironment, environment
from workshop.probe import free_port
from workshop.registry import Step
from workshop.services import ServiceUnavailable
from workshop.settings import DEFAULT_PORTS, ROOT, scheme

CONTAINERS = ROOT / "workshop" / "containers"
OVERRIDE = CONTAINERS / "compose.standins.yml"
OUT = ROOT / "build" / "docker-test"
PROJECT = "workshop-test-docker"
# The Debian root every stand-in starts from, and the Python the project's image is built on.
BASE = "workshop-standin/debian:bookworm"
PYTHON = "workshop-standin/python:3.11-bookworm"
# Outside the repository, so that a fresh clone (CI) finds it: the root, as a tarball.
CACHE = Path.home() / ".cache" / "async-tasks-workshop"
# Seconds for a whole profile to be healthy: about 60 on a quiet machine, more when it is busy
# (a worker's health check that times out comes back 45 s later).
HEALTHY_WITHIN = 420
CHECK_TIMEOUT = 60  # seconds the checks wait for a task (`check --timeout`): a loaded machine


class Failed(Exception):
    """This profile cannot go on; the message says why."""


# --- Compose --------------------------------------------------------------------------------


def compose_command(given: str | None = None) -> list[str]:
    """`docker compose` (the plugin) when it answers, else Debian's `docker-compose` (1.29)."""
    if given:
        return shlex.split(given)
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return ["docker", "compose"] if plugin.returncode == 0 else ["docker-compose"]


@dataclass
class Compose:
    command: list[str]
    env: dict[str, str]  # the variables compose interpolates (accounts, host ports)
    env_file: Path

    def args(self, *profiles: str) -> list[str]:
        files = ["-f", str(ROOT / "docker-compose.yml"), "-f", str(OVERRIDE)]
        chosen = [part for profile in profiles for part in ("--profile", profile)]
        return [*self.command, "--env-file", str(self.env_file), "-p", PROJECT, *files, *chosen]

    def run(self, profiles: tuple[str, ...], *args: str, timeout: float, log: Path | None = None):
        """Run a compose command; its output goes to `log` (or is returned)."""
        with open(log, "a") if log else contextlib.nullcontext() as out:
            done = subprocess.run(
                [*self.args(*profiles), *args],
                cwd=ROOT,
                # COMPOSE_FILE, COMPOSE_PROFILES... from a .env would change the run.
                env={k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
                | self.env,
                stdout=out or subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=False,
            )
        return done

    def config(self, profile: str) -> dict:
        """The resolved configuration (variables filled in) of the profile's services."""
        done = self.run((profile,), "config", timeout=60)
        if done.returncode != 0:
            raise Failed(f"compose config: {done.stdout.strip()}")
        services = yaml.safe_load(done.stdout)["services"]
        # Debian's docker-compose lists every service whatever the profile: keep the profile's.
        return {
            name: service
            for name, service in services.items()
            if not service.get("profiles") or profile in service["profiles"]
        }


def published_ports(services: dict) -> dict[tuple[str, int], int]:
    """(service, port in the container) -> port on the host, from a resolved configuration
    (the long form both compose versions print)."""
    ports = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict) and port.get("published"):
                ports[(name, int(port["target"]))] = int(port["published"])
    return ports


def on_the_host(url: str, ports: dict[tuple[str, int], int]) -> str:
    """A URL as a container uses it (amqp://u:p@rabbitmq:5672//), as the host reaches the same
    server: through its published port (amqp://u:p@localhost:49153//)."""
    parts, kind = urlsplit(url), scheme(url)
    if not parts.hostname or kind not in DEFAULT_PORTS:
        return url
    published = ports.get((parts.hostname, parts.port or DEFAULT_PORTS[kind]))
    if published is None:
        return url
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@localhost:{published}" if credentials else f"localhost:{published}"
    return urlunsplit(parts._replace(netloc=netloc))


# --- The images -----------------------------------------------------------------------------


def docker(*args: str, timeout: float = 60, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False, **options
    )


def image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag).returncode == 0


def debian_mirrors() -> tuple[str, str]:
    """The Debian mirror and security mirror this machine's apt uses (its sources)."""
    mirror, security = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    uris = []
    for path in sources:
        if path.suffix not in (".list", ".sources") or not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split("#")[0].split()
            if words[:1] == ["URIs:"]:
                uris += words[1:]
            elif words[:1] == ["deb"]:
                uris += [w for w in words[1:] if "://" in w][:1]
    for uri in uris:
        if uri.rstrip("/").endswith("/debian-security"):
            security = uri.rstrip("/")
        elif uri.rstrip("/").endswith("/debian"):
            mirror = uri.rstrip("/")
    return mirror, security


def base_image(console: Console) -> None:
    """The Debian bookworm root every stand-in starts from: made once with debootstrap (about a
    minute), kept as a tarball in CACHE, imported when the image is missing."""
    if image_exists(BASE):
        console.print(f"[green]✓[/] {BASE} (already here)")
        return
    tarball = CACHE / "debian-bookworm-minbase.tar"
    started = time.monotonic()
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise Failed("debootstrap is missing: `sudo apt-get install debootstrap`")
        if os.geteuid() != 0:
            raise Failed(f"debootstrap needs root, once, to make {tarball}: run it with sudo")
        mirror, security = debian_mirrors()
        console.print(f"  debootstrap bookworm from {mirror} (once: it is kept in {CACHE})")
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as work:
            root = Path(work) / "root"
            done = subprocess.run(
                ["debootstrap", "--variant=minbase", "--include=ca-certificates"]
                + ["bookworm", str(root), mirror],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if done.returncode != 0:
                raise Failed(f"debootstrap failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
            prepare_root(root, mirror, security)
            partial = Path(work) / "root.tar"
            subprocess.run(
                ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True
            )
            partial.replace(tarball)
    done = docker(
        "import",
        "--change",
        "ENV LANG=C.UTF-8",
        # pip inside a container trusts what the system trusts (a proxy's CA, here).
        "--change",
        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
        "--change",
        'CMD ["bash"]',
        str(tarball),
        BASE,
        timeout=600,
    )
    if done.returncode != 0:
        raise Failed(f"docker import failed: {done.stderr.strip()}")
    console.print(f"[green]✓[/] {BASE} imported in {time.monotonic() - started:.0f} s")


def prepare_root(root: Path, mirror: str, security: str) -> None:
    """What the official Debian image has on top of debootstrap's: the updates and security
    suites, no service started by a package's installation, empty apt caches; and this
    machine's own extra CA certificates (an HTTPS proxy's), so a container trusts what it does."""
    (root / "etc/apt/sources.list").write_text(
        f"deb {mirror} bookworm main\n"
        f"deb {mirror} bookworm-updates main\n"
        f"deb {security} bookworm-security main\n"
    )
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# No service starts while an image is built.\nexit 101\n")
    policy.chmod(0o755)
    extra = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    for certificate in extra:
        shutil.copy(certificate, root / "usr/local/share/ca-certificates" / certificate.name)
    if extra:
        subprocess.run(
            ["chroot", str(root), "update-ca-certificates"], capture_output=True, check=True
        )
    subprocess.run(["chroot", str(root), "apt-get", "clean"], check=True)
    for lists in (root / "var/lib/apt/lists").glob("*_*"):
        lists.unlink()


# What the Python stand-in leaves out of this machine's CPython: installed packages, tests, Tk.
LEFT_OUT = ("site-packages", "test", "idlelib", "tkinter", "turtledemo", "config-3.11-*", "_tk*")


def python_context() -> Path:
    """The Python stand-in's build folder: its Dockerfile, and in cpython/ the CPython 3.11
    running this command (a build from python.org's source, like the official image's, where
    Debian's own python3 is the older 3.11.2)."""
    prefix = Path(sys.base_prefix)
    if sys.version_info[:2] != (3, 11) or prefix == Path("/usr"):
        raise Failed(
            f"the Python stand-in copies this machine's own CPython 3.11 build (pyenv's, say); "
            f"this command runs on {sys.version.split()[0]} from {prefix}"
        )
    context = OUT / "python-context"
    source = context / "cpython.source"
    context.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CONTAINERS / "python" / "Dockerfile", context / "Dockerfile")
    if source.exists() and source.read_text() == f"{prefix} {sys.version}\n":
        return context
    shutil.rmtree(context / "cpython", ignore_errors=True)
    (context / "cpython" / "bin").mkdir(parents=True)
    (context / "cpython" / "lib").mkdir()
    shutil.copy2(prefix / "bin" / "python3.11", context / "cpython" / "bin")
    for library in (prefix / "lib").glob("libpython3*.so*"):
        shutil.copy2(library, context / "cpython" / "lib", follow_symlinks=False)
    shutil.copytree(
        prefix / "lib" / "python3.11",
        context / "cpython" / "lib" / "python3.11",
        symlinks=True,
        ignore=shutil.ignore_patterns(*LEFT_OUT),
    )
    (context / "cpython" / "lib" / "python3.11" / "site-packages").mkdir()
    source.write_text(f"{prefix} {sys.version}\n")
    return context


def images_to_build() -> list[tuple[str, Path, dict[str, str]]]:
    """(tag, build folder, build arguments) of every image the override names, Python first
    (the project's image is built on it), the project's own last."""
    override = yaml.safe_load(OVERRIDE.read_text())["services"]
    found: dict[str, tuple[str, Path, dict[str, str]]] = {PYTHON: (PYTHON, python_context(), {})}
    for service in override.values():
        build = service["build"] if isinstance(service["build"], dict) else {}
        context = build.get("context", service["build"])
        found.setdefault(
            service["image"], (service["image"], ROOT / context, build.get("args", {}))
        )
    return sorted(found.values(), key=lambda image: (image[0] != PYTHON, image[1] == ROOT))


def build_images(console: Console, log_dir: Path) -> None:
    """Build the stand-ins and the project's image (docker's layer cache makes a rebuild of what
    did not change take seconds); each build's output in log_dir."""
    for tag, folder, arguments in images_to_build():
        started = time.monotonic()
        log = log_dir / f"build-{tag.replace('/', '_').replace(':', '_')}.log"
        options = [part for k, v in arguments.items() for part in ("--build-arg", f"{k}={v}")]
        with open(log, "w") as out:
            done = subprocess.run(
                ["docker", "build", "--force-rm", "--tag", tag, *options, str(folder)],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=1800,
                check=False,
            )
        if done.returncode != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
            raise Failed(f"docker build {tag} failed ({log.relative_to(ROOT)}):\n{tail}")
        console.print(f"[green]✓[/] {tag} built in {time.monotonic() - started:.0f} s")


# --- One profile ----------------------------------------------------------------------------


@dataclass
class Container:
    id: str
    service: str
    hostname: str
    state: str  # running, exited, restarting...
    exit_code: int
    health: str | None  # healthy, starting, unhealthy, or None without a health check
    said: str  # what its last health check printed
    restarts: int
    volumes: list[str]


def containers() -> list[Container]:
    """The run's containers, as the engine sees them."""
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}")
    if not ids.stdout.split():
        return []
    found = json.loads(docker("inspect", *ids.stdout.split()).stdout or "[]")
    return [
        Container(
            id=c["Id"][:12],
            service=c["Config"]["Labels"].get("com.docker.compose.service", "?"),
            hostname=c["Config"]["Hostname"],
            state=c["State"]["Status"],
            exit_code=c["State"]["ExitCode"],
            health=(c["State"].get("Health") or {}).get("Status"),
            said=((c["State"].get("Health") or {}).get("Log") or [{}])[-1].get("Output", ""),
            restarts=c["RestartCount"],
            volumes=[m["Name"] for m in c["Mounts"] if m["Type"] == "volume"],
        )
        for c in found
    ]


def wait_healthy(services: dict, timeout: float, console: Console) -> list[Container]:
    """Every service running and healthy, every one-off job (restart: "no") exited 0; Failed
    as soon as a job failed or a service restarted, or after `timeout` seconds (an unhealthy
    service may still recover: a health check can time out on a loaded machine)."""
    started = time.monotonic()
    deadline, noted = started + timeout, started
    while True:
        found = {c.service: c for c in containers()}
        waiting = []
        for name, service in services.items():
            container = found.get(name)
            if container is None:
                waiting.append(f"{name} (not created yet)")
            elif str(service.get("restart", "no")) == "no":
                if container.state == "exited" and container.exit_code != 0:
                    raise Failed(f"{name} exited with {container.exit_code}")
                if container.state != "exited":
                    waiting.append(f"{name} ({container.state})")
            elif container.restarts:
                raise Failed(f"{name} restarted {container.restarts} times")
            elif container.state != "running" or container.health not in ("healthy", None):
                last = container.said.strip().splitlines()[-1:] if container.health else []
                waiting.append(
                    f"{name} ({container.health or container.state}{': ' if last else ''}"
                    f"{''.join(last)[:200]})"
                )
        if not waiting:
            return list(found.values())
        if time.monotonic() > deadline:
            raise Failed(f"not healthy after {timeout} s: {', '.join(waiting)}")
        if time.monotonic() - noted > 60:  # what it waits for, once a minute
            noted = time.monotonic()
            console.print(
                f"  after {noted - started:.0f} s, still waiting for {', '.join(waiting)}"
            )
        time.sleep(2)


@dataclass(frozen=True)
class ContainerEnvironment(StepEnvironment):
    """The step's variables as the host sees the containers: its workers' names end with their
    containers' host names, not this machine's."""

    nodes: dict[str, str] = field(default_factory=dict)  # worker1 -> worker1@3f2a1b0c9d8e

    def worker_names(self) -> list[str]:
        names = [ping.worker.format(**self.settings.model_dump()) for ping in self.step.workers()]
        return [self.nodes.get(name, f"{name}@?") for name in names]


@dataclass
class ContainerContext(Context):
    """A check's context whose /health, read from the app in a container, names its servers as
    the host reaches them: rabbitmq:5672 is localhost:<published port>."""

    published: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def health(self) -> dict:
        return self._health

    @health.setter
    def health(self, value: dict) -> None:
        value = json.loads(json.dumps(value))  # a copy
        for entry in value.values() if isinstance(value, dict) else ():
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                entry["url"] = on_the_host(entry["url"], getattr(self, "published", {}))
        self._health = value


def gunicorn_in_container(context: Context, web: Container) -> None:
    """Step 2's Gunicorn check, in its container (the local check reads this machine's
    processes): a master and its workers, as many as gunicorn.conf.py starts."""
    top = docker("top", web.id, "-eo", "pid,ppid,args")
    rows = [line.split(None, 2) for line in top.stdout.splitlines()[1:]]
    gunicorn = {pid: ppid for pid, ppid, args in rows if "gunicorn" in args}
    masters = [pid for pid, ppid in gunicorn.items() if ppid not in gunicorn]
    workers = [pid for pid, ppid in gunicorn.items() if ppid in masters]
    expected = psutil.cpu_count() + 1  # gunicorn.conf.py: cores + 1, the same cores
    where = f"container {web.service}"
    if len(masters) == 1 and len(workers) == expected:
        context.report.ok(f"Gunicorn master (pid {masters[0]}) with {expected} workers in {where}")
    else:
        context.report.fail(
            f"Gunicorn in {where}: masters {masters}, {len(workers)} workers (expected {expected})",
            f"docker logs {web.id}",
        )


def run_checks_on(
    step: Step, services: dict, running: list[Container], env: dict[str, str], console: Console
) -> int:
    """The step's own checks (workshop/steps/), from the host through the published ports; the
    one that reads this machine's processes (Gunicorn's) runs in the container instead."""
    ports = published_ports(services)
    app = next(s for s in services.values() if "CELERY_BROKER_URL" in s.get("environment", {}))
    variables = {
        **env,
        "WORKSHOP_MODE": "services",
        **{
            name: on_the_host(app["environment"][name], ports)
            for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DATABASE_URL")
            if name in app["environment"]
        },
    }
    try:
        base = environment(step, {**os.environ, **variables})
    except ServiceUnavailable as error:
        console.print(f"[red]✗[/] {error}")
        return 1
    nodes = {}
    for container in running:
        command = services[container.service].get("command") or []
        for part in command if isinstance(command, list) else command.split():
            if part.startswith("--hostname=") and part.endswith("@%h"):
                name = part.removeprefix("--hostname=").removesuffix("@%h")
                nodes[name] = f"{name}@{container.hostname}"
    step_env = ContainerEnvironment(**vars(base), nodes=nodes)
    url = f"http://localhost:{step_env.ports[step.main_port.name]}"
    report = Verdicts(console)
    console.print(
        f"[blue]ⓘ[/] the step's checks from the host, at {url}; servers through their published "
        "ports, workers by their containers' names",
        highlight=False,
    )
    by_port = {published: name for (name, _), published in ports.items()}
    # As workshop.checks.run_checks does, with this context.
    with httpx.Client(base_url=url, timeout=5) as client:
        context = ContainerContext(step_env, url, CHECK_TIMEOUT, client, report, published=ports)
        api_down = False
        for check in step.checks:
            if api_down and not getattr(check, "beside_the_app", False):
                continue
            try:
                if check.__name__ == "gunicorn_workers":
                    service = by_port.get(step_env.ports["gunicorn"])
                    gunicorn_in_container(context, next(c for c in running if c.service == service))
                else:
                    check(context)
            except Stop:
                break
            except (httpx.HTTPError, ValueError, KeyError) as error:
                report.fail(f"the task API stopped answering ({error!r})", "read the logs")
                api_down = True
    return 1 if report.failed else 0


@dataclass
class Outcome:
    step: str
    ok: bool = False
    times: dict[str, float] = field(default_factory=dict)
    why: str = ""


def host_ports() -> dict[str, str]:
    """A free host port for each port the compose file publishes (its variables)."""
    names = [
        *("RABBITMQ_PORT", "RABBITMQ_MANAGEMENT_PORT", "REDIS_PORT", "POSTGRES_PORT"),
        *("PORT", "GUNICORN_PORT", "NGINX_PORT", "FLOWER_PORT", "DEMO_BLOG_PORT"),
        *("DJANGO_PORT", "FASTAPI_PORT", "STEP04_FLOWER_PORT"),
    ]
    ports: set[int] = set()
    while len(ports) < len(names):
        ports.add(free_port())
    return dict(zip(names, map(str, sorted(ports)), strict=True))


def compose_env() -> dict[str, str]:
    """The accounts (new ones each run, never guest), the ports, and quicker step-4 tasks."""
    return {
        "RABBITMQ_USER": "workshop",
        "RABBITMQ_PASSWORD": secrets.token_hex(12),
        "POSTGRES_PASSWORD": secrets.token_hex(12),
        "STEP03_RABBITMQ_USER": "scraper",
        "STEP03_RABBITMQ_PASSWORD": secrets.token_hex(12),
        "FLOWER_BASIC_AUTH": f"workshop:{secrets.token_hex(8)}",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TASK_SECONDS": "3",
        "TASK_DELAY_SCALE": "0.1",  # what `make step04` uses: a chain in seconds, not a minute
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        **host_ports(),
    }


def project(command: list[str], folder: Path) -> Compose:
    """Compose with new accounts and ports, in an env file of `folder` (compose would read the
    learner's .env otherwise). New for each profile: nothing of one run reaches the next."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = compose_env()
    env_file = folder / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    env_file.chmod(0o600)
    return Compose(command, env, env_file)


def run_profile(compose: Compose, step: Step, keep: bool, console: Console) -> Outcome:
    outcome = Outcome(step.name)
    folder = compose.env_file.parent
    profile = (step.name,)
    started = time.monotonic()
    volumes: set[str] = set()
    try:
        services = compose.config(step.name)
        # Debian's docker-compose waits for the healthy dependencies itself; both get a bound.
        done = compose.run(profile, "up", "--detach", timeout=600, log=folder / "up.log")
        volumes = {v for c in containers() for v in c.volumes}
        if done.returncode != 0:
            raise Failed(f"compose up failed: {tail(folder / 'up.log')}")
        running = wait_healthy(services, HEALTHY_WITHIN, console)
        volumes |= {v for c in running for v in c.volumes}
        outcome.times["healthy"] = time.monotonic() - started
        console.print(
            f"[green]✓[/] {len(services)} services healthy in {outcome.times['healthy']:.0f} s: "
            + ", ".join(sorted(services)),
            highlight=False,
        )
        started = time.monotonic()
        record = Console(record=True, soft_wrap=True, highlight=False)
        code = run_checks_on(step, services, running, compose.env, record)
        (folder / "check.txt").write_text(record.export_text())
        outcome.times["check"] = time.monotonic() - started
        if code != 0:
            raise Failed("the step's checks failed (above)")
        outcome.ok = True
    except (Failed, subprocess.TimeoutExpired) as error:
        outcome.why = str(error)
        console.print(f"[red]✗[/] {step.name}: {error}", highlight=False)
    finally:
        if not outcome.ok:
            keep_logs(compose, profile, folder, console)
        if not keep:
            started = time.monotonic()
            down = compose.run(
                profile,
                "down",
                "--volumes",
                "--remove-orphans",
                timeout=300,
                log=folder / "down.log",
            )
            outcome.times["down"] = time.monotonic() - started
            left = [c.service for c in containers()]
            left_volumes = sorted(volumes & set(docker("volume", "ls", "-q").stdout.split()))
            if down.returncode != 0 or left or left_volumes:
                outcome.ok = False
                outcome.why = outcome.why or (
                    f"down left containers {left} and volumes {left_volumes}"
                )
                console.print(f"[red]✗[/] {step.name}: {outcome.why}")
            else:
                console.print(
                    f"[green]✓[/] down -v in {outcome.times['down']:.0f} s: no container, "
                    f"no volume left ({len(volumes)} removed)"
                )
    return outcome


def tail(path: Path, lines: int = 20) -> str:
    return "".join(path.read_text().splitlines(keepends=True)[-lines:])


def keep_logs(compose: Compose, profile: tuple[str, ...], folder: Path, console: Console) -> None:
    """Every container's log and state, for the post-mortem."""
    compose.run(profile, "ps", timeout=60, log=folder / "ps.txt")
    compose.run(profile, "logs", "--no-color", "--timestamps", timeout=120, log=folder / "logs.txt")
    for container in containers():
        logs = docker("logs", "--timestamps", container.id, timeout=60)
        (folder / f"{container.service}.log").write_text(logs.stdout + logs.stderr)
        state = docker("inspect", "--format", "{{json .State}}", container.id)
        (folder / f"{container.service}.state.json").write_text(state.stdout)
    console.print(f"  the containers' logs: {folder.relative_to(ROOT)}/")


# --- The command ----------------------------------------------------------------------------


def test_docker(console: Console, names: list[str], keep: bool, compose_given: str | None) -> int:
    started = time.monotonic()
    if docker("info", timeout=20).returncode != 0:
        console.print("[red]✗[/] no Docker engine answers (`docker info`): start dockerd first")
        return 1
    command = compose_command(compose_given)
    version = subprocess.run([*command, "version"], capture_output=True, text=True, check=False)
    if version.returncode != 0:
        console.print(f"[red]✗[/] {' '.join(command)} does not run: install docker-compose")
        return 1
    console.print(f"compose: {' '.join(command)} ({version.stdout.splitlines()[0].strip()})")
    OUT.mkdir(parents=True, exist_ok=True)
    all_profiles = tuple(steps.STEPS)
    # Whatever an interrupted run left behind.
    project(command, OUT).run(all_profiles, "down", "--volumes", "--remove-orphans", timeout=300)
    times = {}
    try:
        base_image(console)
        times["base"] = time.monotonic() - started
        build_images(console, OUT)
    except (Failed, subprocess.TimeoutExpired) as error:
        console.print(f"[red]✗[/] {error}")
        return 1
    times["images"] = time.monotonic() - started - times["base"]
    outcomes = []
    for name in names or all_profiles:
        console.rule(f"{name}: up, healthy, checked, down", align="left")
        compose = project(command, OUT / name)
        outcomes.append(run_profile(compose, steps.STEPS[name], keep, console))
    console.rule("test-docker", align="left")
    console.print(
        f"base image {times['base']:.0f} s, images {times['images']:.0f} s", highlight=False
    )
    for outcome in outcomes:
        spent = ", ".join(f"{k} {v:.0f} s" for k, v in outcome.times.items())
        mark = "[green]✓[/]" if outcome.ok else "[red]✗[/]"
        console.print(f"{mark} {outcome.step}: {spent}{'  ' + outcome.why if outcome.why else ''}")
    console.print(f"in all {time.monotonic() - started:.0f} s", highlight=False)
    return 0 if all(outcome.ok for outcome in outcomes) else 1
