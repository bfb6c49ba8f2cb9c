"""Workshop commands: ``python -m workshop doctor|run|env|check|ps|trace|live|stress|demo|faults``,
``bench``, the exercises (``exercises|exercise|verify|hint|solution|watch``), ``notebooks-html``,
``slides``, ``test-docker`` and the room as a cluster (``room|join|room-send|room-close``).

Every command that concerns a step takes it from the registry (workshop/steps/).
"""

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from workshop.registry import BadSetting


def main(argv: list[str] | None = None) -> int:
    # Like honcho, read .env (without overriding the environment) before anything reads a
    # setting, so every command and every process it starts sees the same values.
    from dotenv import load_dotenv

    from workshop.settings import ROOT

    load_dotenv(ROOT / ".env", override=False)
    from workshop import steps

    names = list(steps.STEPS)
    parser = argparse.ArgumentParser(prog="python -m workshop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="list what this machine has, with a fix for what is missing")
    port = argparse.ArgumentParser(add_help=False)
    port.add_argument("--port", type=int, help="the step's main port (make ... PORT=)")
    run = commands.add_parser("run", parents=[port], help="start a step (Ctrl-C stops it)")
    run.add_argument("step", choices=names)
    env = commands.add_parser(
        "env", parents=[port], help="the variables a step runs with, as `export` lines"
    )
    env.add_argument("step", choices=names)
    check = commands.add_parser("check", parents=[port], help="verify a running step, hop by hop")
    check.add_argument("step", choices=names)
    check.add_argument("--url", help="where the step answers (default: its main port)")
    check.add_argument("--timeout", type=float, default=10, help="seconds to wait for a task")
    ps = commands.add_parser("ps", help="process tree of the running steps, with roles")
    ps.add_argument("step", nargs="?", choices=names)
    trace = commands.add_parser("trace", help="timeline of one request, hop by hop")
    trace.add_argument("task_id")
    trace.add_argument("--step", choices=names)
    trace.add_argument("--json", action="store_true", help="print the timeline as JSON")
    stress = commands.add_parser("stress", parents=[port], help="load a step, print its figures")
    stress.add_argument("--step", choices=names)
    stress.add_argument("-n", "--requests", type=int, default=500)
    stress.add_argument("-c", "--concurrency", type=int, default=20)
    stress.add_argument("--target", help="the port to load, by name (nginx, gunicorn...)")
    stress.add_argument("--seconds", type=float, default=0, help="simulated work per task")
    stress.add_argument("--no-baseline", action="store_true", help="skip the apply_async run")
    stress.add_argument("--timeout", type=float, help="seconds to wait for the tasks")
    bench = commands.add_parser("bench", help="what each hop of step 2 costs, against floors")
    bench.add_argument("--quick", action="store_true", help="one short round")
    bench.add_argument("--variants", action="store_true", help="and the workers' settings")
    live = commands.add_parser("live", help="a projector view of the running step 2, in a page")
    live.add_argument("--step", choices=names)
    live.add_argument("--room", action="store_true", help="the room as a cluster (make room)")
    demo = commands.add_parser("demo", parents=[port], help="a step for an audience, end to end")
    demo.add_argument("--step", choices=names)
    demo.add_argument("-n", "--requests", type=int, default=50)
    faults = commands.add_parser("faults", help="break a step under load: is any task lost?")
    faults.add_argument("--step", choices=names)
    exercises = commands.add_parser("exercises", help="the exercises, and where each one stands")
    exercises.add_argument("action", nargs="?", choices=["list", "strip", "restore", "reset"])
    exercises.add_argument("--json", action="store_true", help="the list as JSON")
    for name, text in (
        ("exercise", "start an exercise: its starting point in the lesson files"),
        ("verify", "verify an exercise (default: the current one)"),
        ("hint", "the next hint"),
        ("solution", "the solution back, with the diff of your attempt"),
        ("watch", "verify again at every save"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("id", nargs=None if name == "exercise" else "?", help="01.3...")
        if name == "exercise":
            command.add_argument("--force", action="store_true", help="over uncommitted edits")
    html = commands.add_parser("notebooks-html", help="run the notebooks, write HTML copies")
    html.add_argument("names", nargs="*", help="only these notebooks (default: all)")
    slides = commands.add_parser("slides", help="build the instructor decks (HTML, offline)")
    slides.add_argument("decks", nargs="*", type=Path, help="only these decks (default: all)")
    slides.add_argument("--pdf", action="store_true", help="PDFs too, printed by Chromium")
    slides.add_argument("--out", type=Path, help="where the decks go (default: build/slides)")
    docker_test = commands.add_parser(
        "test-docker", help="every compose profile for real, on local stand-in images"
    )
    docker_test.add_argument("steps", nargs="*", help=f"only these ({', '.join(names)})")
    docker_test.add_argument("--keep", action="store_true", help="leave the containers running")
    docker_test.add_argument("--compose", help="the compose command (default: found)")
    room = commands.add_parser("room", help="for instructors: RabbitMQ ready for the room")
    room.add_argument("--name", default="room", help="its virtual host, queue and user")
    join = commands.add_parser("join", help="for learners: a worker of the room")
    join.add_argument("url", help="the room's URL, as make room prints it")
    join.add_argument("name", help="your name: the worker is <name>@<this machine>")
    join.add_argument("--concurrency", type=int, default=2, help="pool processes")
    send = commands.add_parser("room-send", help="for instructors: load the room, count")
    send.add_argument("-n", "--tasks", type=int, default=500)
    send.add_argument("--seconds", type=float, default=0.5, help="simulated work per task")
    send.add_argument("--timeout", type=float, default=120, help="seconds to wait for them")
    send.add_argument("--json", action="store_true", help="the outcome as JSON")
    commands.add_parser("room-close", help="for instructors: delete the room's vhost and user")
    args = parser.parse_args(argv)

    # soft_wrap: one check, one line, whatever the width (logs and grep stay readable).
    console = Console(soft_wrap=True)
    if args.command == "doctor":
        from workshop.tools.doctor import doctor

        return doctor(console)
    if args.command == "bench":
        from dataclasses import replace

        from workshop.tools.bench import QUICK, Plan, bench

        return bench(console, replace(QUICK if args.quick else Plan(), variants=args.variants))
    if args.command == "notebooks-html":
        from workshop.tools.notebooks_html import notebooks_html

        return notebooks_html(console, args.names)
    if args.command == "slides":
        from workshop.tools.slides import OUT, build

        return build(console, args.pdf, (args.out or OUT).resolve(), args.decks)
    if args.command == "test-docker":
        from workshop.tools.docker_test import test_docker

        if unknown := set(args.steps) - set(names):
            parser.error(f"no step {', '.join(sorted(unknown))}: {', '.join(names)}")
        return test_docker(console, args.steps, args.keep, args.compose)
    if args.command == "ps":
        from workshop.tools.ps import ps_command

        return ps_command(args.step, console)
    if args.command in ("room", "join", "room-send", "room-close"):
        return room_command(args, console)
    if args.command in ("exercises", "exercise", "verify", "hint", "solution", "watch"):
        return exercise_command(args, console)
    if args.command == "live" and args.room:  # no step: the room's own broker and workers
        from workshop.settings import Settings
        from workshop.tools.live import live_room

        settings = Settings()
        return live_room(settings, settings.live_port, console)
    from workshop.tools import pick

    # What a step must have for the command: `make stress` loads a task API, and so on.
    needs = {
        "trace": lambda s: s.tracing,
        "stress": lambda s: s.task_api,
        "demo": lambda s: s.task_api and s.tracing,
        "live": lambda s: s.task_api and s.tracing,
        "faults": lambda s: s.task_api and s.history,
    }
    step = pick(args.step, needs.get(args.command, bool))
    if getattr(args, "port", None):  # the main port, for this command and what it starts
        import os

        os.environ[step.main_port.variable] = str(args.port)
    if args.command == "run":
        from workshop.launcher import run

        return run(step, console)
    from workshop.environment import environment
    from workshop.services import ServiceUnavailable

    try:
        env = environment(step)
    except ServiceUnavailable as error:
        console.print(f"[red]{error}[/]")
        return 1
    if args.command == "env":
        print(env.exports())
        return 0
    if args.command == "check":
        from workshop.checks import run_checks

        url = args.url or f"http://localhost:{env.ports[step.main_port.name]}"
        return run_checks(env, url.rstrip("/"), args.timeout, console)
    if args.command == "trace":
        from workshop.tools.trace import trace_command

        return trace_command(args.task_id, step, args.json, console)
    if args.command == "stress":
        from workshop.tools.stress import stress

        code, _ = stress(
            env,
            args.requests,
            args.concurrency,
            args.target,
            args.seconds,
            not args.no_baseline,
            console,
            args.timeout,
        )
        return code
    if args.command == "live":
        from workshop.tools.live import live

        return live(env, env.settings.live_port, console)
    if args.command == "faults":
        from workshop.tools.faults import faults

        return faults(step, console)
    from workshop.tools.demo import demo

    return demo(env, args.requests, console)


def exercise_command(args: argparse.Namespace, console: Console) -> int:
    from workshop import exercises

    try:
        if args.command == "exercises":
            if args.action in ("strip", "restore"):
                done = getattr(exercises, args.action)()
                console.print(f"{args.action}: {', '.join(done) or 'nothing to do'}")
                return 0
            if args.action == "reset":
                return exercises.reset(console)
            return exercises.list_exercises(console, args.json)
        if args.command == "exercise":
            return exercises.start(args.id, args.force, console)
        return getattr(exercises, args.command)(args.id, console)
    except exercises.Refused as refusal:
        console.print(f"[red]{refusal}[/]")
        return 2


def room_command(args: argparse.Namespace, console: Console) -> int:
    from workshop.tools import room

    if args.command == "room":
        return room.room_command(console, args.name)
    if args.command == "join":
        return room.join_command(args.url, args.name, args.concurrency, console)
    if args.command == "room-send":
        return room.send_command(args.tasks, args.seconds, args.timeout, args.json, console)
    return room.close_command(console)


def bad_settings(error: ValidationError) -> str:
    """One line per variable that has a value the settings model refuses."""
    return "\n".join(
        f"✗ {'.'.join(map(str, e['loc'])).upper()}={e['input']!r}: {e['msg']}. "
        "Fix it in .env or in the environment (.env.example says what it takes)."
        for e in error.errors()
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before a command started anything: no traceback
        sys.exit(130)
    except ValidationError as error:  # WORKER_CONCURRENCY=0, WORKSHOP_MODE=sometimes...
        print(bad_settings(error), file=sys.stderr)
        sys.exit(2)
    except BadSetting as error:  # NGINX_PORT=88a
        print(error, file=sys.stderr)
        sys.exit(2)
