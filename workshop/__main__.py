"""Workshop commands: ``python -m workshop doctor|check STEP|run STEP``."""

import argparse
import os
import sys

from rich.console import Console


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="list what this machine has, with a fix for what is missing")
    check = commands.add_parser("check", help="verify a running step, hop by hop")
    check.add_argument("step", choices=["step01", "step02"])
    check.add_argument("--url", help="where the step answers (default: its standard port)")
    check.add_argument("--timeout", type=float, default=10, help="seconds to wait for a task")
    run = commands.add_parser("run", help="start a step's processes (Ctrl-C stops them)")
    run.add_argument("step", choices=["step01", "step02"])
    run.add_argument("--port", type=int, default=None)
    trace = commands.add_parser("trace", help="timeline of one step-2 request, hop by hop")
    trace.add_argument("task_id")
    trace.add_argument("--json", action="store_true", help="print the timeline as JSON")
    ps_parser = commands.add_parser("ps", help="process tree of a running step, with roles")
    ps_parser.add_argument("step", choices=["step02"])
    stress = commands.add_parser("stress", help="load step 2 and print its figures")
    stress.add_argument("-n", "--requests", type=int, default=500)
    stress.add_argument("-c", "--concurrency", type=int, default=20)
    stress.add_argument("--target", choices=["nginx", "gunicorn"], default="nginx")
    stress.add_argument("--seconds", type=float, default=0, help="simulated work per task")
    stress.add_argument("--no-baseline", action="store_true", help="skip the apply_async run")
    stress.add_argument("--timeout", type=float, help="seconds to wait for the tasks")
    demo = commands.add_parser("demo", help="step 2 for an audience: start, load, trace, stop")
    demo.add_argument("-n", "--requests", type=int, default=50)
    args = parser.parse_args(argv)

    # soft_wrap: one check, one line, whatever the width (logs and grep stay readable).
    # Like honcho, read .env (without overriding the environment), so every command and every
    # process it starts sees the same settings.
    from dotenv import load_dotenv

    from workshop.settings import ROOT

    load_dotenv(ROOT / ".env", override=False)
    console = Console(soft_wrap=True)
    if args.command == "doctor":
        from workshop.doctor import doctor

        return doctor(console)
    if args.command == "check":
        from workshop.check import CHECKS
        from workshop.steps import STEPS

        port = os.environ.get("NGINX_PORT") if args.step == "step02" else None
        url = args.url or f"http://localhost:{port or STEPS[args.step].port}"
        return CHECKS[args.step](url.rstrip("/"), args.timeout, console)
    if args.command == "demo":
        from workshop.demo import demo as run_demo

        return run_demo(args.requests, console)
    if args.command == "stress":
        from workshop.stress import stress as run_stress

        code, _ = run_stress(
            args.requests,
            args.concurrency,
            args.target,
            args.seconds,
            not args.no_baseline,
            console,
            args.timeout,
        )
        return code
    if args.command == "ps":
        from workshop.ps import ps_command

        return ps_command(console)
    if args.command == "trace":
        from workshop.trace import trace_command

        return trace_command(args.task_id, args.json, console)
    from workshop.run import run as run_step

    return run_step(args.step, args.port, console)


if __name__ == "__main__":
    sys.exit(main())
