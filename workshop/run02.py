"""`python -m workshop run step02` (what `make step02` runs): the whole step-2 stack under
supervisord, its logs followed with a prefix per process. Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
from rich.console import Console

from workshop import stack02
from workshop.probe import broker_url_for, ping_workers
from workshop.procs import VENV_BIN, port_in_use, wait_until
from workshop.run import _interrupt, workers_already_running
from workshop.settings import (
    ServiceUnavailable,
    celery_services,
    export_choice,
    print_banner,
    safe_url,
)
from workshop.tail import Tail


def run_step02(port: int | None, console: Console) -> int:
    if port:
        os.environ["NGINX_PORT"] = str(port)
    ports = stack02.Ports.from_env()
    if stack02.nginx_binary() is None:
        console.print(
            "[red]nginx is not installed.[/] Step 2 runs the ordinary nginx binary: "
            "`sudo apt-get install nginx` (Debian/Ubuntu) or `brew install nginx`."
        )
        return 1
    for name, number, variable in (
        ("Nginx", ports.nginx, "NGINX_PORT"),
        ("Gunicorn", ports.gunicorn, "GUNICORN_PORT"),
        ("Flower", ports.flower, "FLOWER_PORT"),
    ):
        if port_in_use(number):
            console.print(
                f"[red]Port {number} ({name}) is already in use.[/] Is step 2 already "
                "running? Stop it with Ctrl-C, or choose another port: "
                f"`{variable}={free_port_near(number)} make step02`."
            )
            return 1

    from step02_nginx_gunicorn.results import use_postgresql_by_default

    use_postgresql_by_default()
    try:
        services = celery_services()  # writes any fallback back into the environment
    except ServiceUnavailable as error:
        console.print(f"[red]{error}[/]")
        return 1
    print_banner(services, file=sys.stdout)
    try:
        services.celery_config()  # creates .run/ when the embedded default needs it
        stack02.create_result_tables(services.backend.url)
    except Exception as error:  # a database that refuses us: say which one, and why
        console.print(
            f"[red]Could not prepare the result tables at "
            f"{safe_url(services.backend.url)}:[/] {error}"
        )
        return 1
    export_choice(services)
    names = [f"{name}@{socket.gethostname()}" for name in stack02.worker_names()]
    if clash := workers_already_running(services, names):
        console.print(
            f"[red]A worker named {', '.join(clash)} already answers on this broker.[/] "
            "Two workers with one name break each other: stop the other step first "
            "(Ctrl-C in its terminal)."
        )
        return 1
    auth, generated = stack02.flower_auth()
    os.environ["FLOWER_BASIC_AUTH"] = auth
    os.environ["GUNICORN_PORT"] = str(ports.gunicorn)

    paths = stack02.Paths.current()
    paths.root.mkdir(parents=True, exist_ok=True)
    conf = stack02.render_supervisord(paths, ports)
    console.print("[bold]step02: Nginx + Gunicorn + 2 Celery workers + Flower[/]")
    console.print(f"  broker:         {safe_url(services.broker.url)}", highlight=False)
    console.print(f"  result backend: {safe_url(services.backend.url)}", highlight=False)

    logs = {name: paths.logs / f"{name}.log" for name in ("supervisord", *stack02.PROGRAMS)}
    for log in logs.values():
        log.unlink(missing_ok=True)
    tail = Tail(logs, console)
    tail.start()
    # A closed terminal (SIGHUP) or `kill` (SIGTERM) must stop the stack like Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    supervisord = subprocess.Popen(
        [str(VENV_BIN / "supervisord"), "-c", str(conf)],
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        # supervisord writes to its log file, never to this terminal, and runs in its own
        # session: Ctrl-C reaches this launcher, which stops supervisord, which stops the rest.
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    interrupted = False
    try:
        if wait_ready(supervisord, ports, names, console):
            print_try_it(ports, auth, generated, paths, console)
        supervisord.wait()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop(supervisord)
        tail.stop()
    if interrupted:
        console.print("step02 stopped. Start it again with `make step02`.")
        return 0
    return supervisord.returncode or 0


def stop(supervisord: subprocess.Popen) -> None:
    """supervisord stops every program (TERM, then KILL after stopwaitsecs) before it exits."""
    if supervisord.poll() is None:
        supervisord.send_signal(signal.SIGTERM)
        try:
            supervisord.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(supervisord.pid, signal.SIGKILL)
            supervisord.wait(timeout=5)


def free_port_near(port: int) -> int:
    """A free port a little above `port` that no step of the workshop uses."""
    taken = {8000, 8001, 8002, 8003, 8004, 8888, 5555, 5672, 15672, 6379, 5432}
    return next(p for p in range(port + 10, port + 200) if p not in taken and not port_in_use(p))


def wait_ready(
    supervisord: subprocess.Popen, ports: stack02.Ports, names: list[str], console: Console
) -> bool:
    base = f"http://127.0.0.1:{ports.nginx}"

    def health() -> dict | None:
        if supervisord.poll() is not None:
            raise RuntimeError("supervisord exited")
        try:
            answer = httpx.get(f"{base}/health", timeout=1)
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    try:
        info = wait_until(health, timeout=60, what="Nginx -> Gunicorn answering /health")
        url, options = broker_url_for(info)
        wait_until(
            lambda: set(names) <= set(ping_workers(url, options, 1)),
            timeout=60,
            what=f"{', '.join(names)} answering ping",
        )
    except (TimeoutError, RuntimeError) as error:
        console.print(f"[red]{error}[/]: read the log lines above (.run/step02/logs/).")
        return False
    return True


def print_try_it(ports, auth: str, generated: bool, paths, console: Console) -> None:
    user, password = auth.split(":", 1)
    note = " (random: set FLOWER_BASIC_AUTH=user:password in .env to choose)" if generated else ""
    console.rule("[bold green]step02 is up (Ctrl-C stops it)")
    port = "" if ports.nginx == stack02.Ports.nginx else f" PORT={ports.nginx}"
    for line in [
        f"API through Nginx: http://localhost:{ports.nginx}   Gunicorn direct: "
        f"http://localhost:{ports.gunicorn}",
        f"Flower:            http://localhost:{ports.flower}   "
        f"user {user} password {password}{note}",
        f"Logs:              {paths.logs}/",
        "",
        f"for i in $(seq 50); do curl -s -X POST localhost:{ports.nginx}/api/process_data "
        "-H 'Content-Type: application/json' -d '{\"seconds\": 1}'; done",
        f"make check-step02{port}              # every hop, one line each",
        "make ps                        # the master and worker processes",
        "make trace ID=<task_id>        # one request's timeline, hop by hop",
        f"make stress N=500 C=20{port}         # load through Nginx, with figures",
    ]:
        console.print(line, highlight=False, markup=False)
    console.rule()
