"""Workshop commands: ``python -m workshop doctor|check STEP|run STEP``."""

import argparse
import sys

from rich.console import Console


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="list what this machine has, with a fix for what is missing")
    check = commands.add_parser("check", help="verify a running step, hop by hop")
    check.add_argument("step", choices=["step01"])
    check.add_argument("--url", help="where the step answers (default: its standard port)")
    check.add_argument("--timeout", type=float, default=10, help="seconds to wait for a task")
    run = commands.add_parser("run", help="start a step's processes (Ctrl-C stops them)")
    run.add_argument("step", choices=["step01"])
    run.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)

    # soft_wrap: one check, one line, whatever the width (logs and grep stay readable).
    console = Console(soft_wrap=True)
    if args.command == "doctor":
        from workshop.doctor import doctor

        return doctor(console)
    if args.command == "check":
        from workshop.check import CHECKS
        from workshop.steps import STEPS

        url = args.url or f"http://localhost:{STEPS[args.step].port}"
        return CHECKS[args.step](url.rstrip("/"), args.timeout, console)
    from workshop.run import run as run_step

    return run_step(args.step, args.port, console)


if __name__ == "__main__":
    sys.exit(main())
