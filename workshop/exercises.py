"""The exercises: learners write the lesson code, and what it does proves it.

    make exercises              the list, per step, with minutes and where each one stands
    make exercise EX=01.3       start one: its starting point in the lesson files, its goal
    make verify                 its tests, and its live checks when its step runs
    make hint / make solution   the next hint; the solution back, with the diff of your attempt
    make watch                  verify again at every save
    make exercises-reset        every lesson file back to the solution (for an instructor)

Each step declares its exercises (workshop/steps/stepNN.py). The lesson files hold the solutions,
so the repository always runs; an exercise's starting point, its stub, is a patch
(steps/stubs/<id>.diff) applied to them, and taken back. `python -m workshop exercises strip`
writes every stub (a branch for a room), `restore` undoes it. What a learner did is kept in
.run/exercises.json: the current exercise, each one's last verification, the hints shown.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.syntax import Syntax

from workshop import steps
from workshop.registry import Exercise, Step
from workshop.settings import ROOT, Settings


class Refused(Exception):
    """The command cannot do what it was asked; the message says why and what to do."""


def all_exercises() -> dict[str, tuple[Step, Exercise]]:
    return {ex.id: (step, ex) for step in steps.STEPS.values() for ex in step.exercises}


def find(exercise_id: str | None) -> tuple[Step, Exercise]:
    """The exercise `exercise_id`, or the current one."""
    found = all_exercises()
    chosen = exercise_id or load().get("current")
    if chosen is None:
        raise Refused(
            "No exercise is started: `make exercises` lists them, then `make exercise EX=01.1`."
        )
    if chosen not in found:
        raise Refused(f"No exercise {chosen}: `make exercises` lists them ({', '.join(found)}).")
    return found[chosen]


# --- The stubs: patches applied to the lesson files, and taken back -----------------------------


@dataclass(frozen=True)
class Hunk:
    """One change of a patch: the solution's lines (with their context), and the stub's."""

    path: str
    solution: str
    stub: str


def hunks(exercise: Exercise) -> list[Hunk]:
    """The changes of the exercise's patch, read from its unified diff (`git diff` writes it)."""
    found, path, old, new = [], "", [], []

    def close() -> None:
        if old or new:
            found.append(Hunk(path, "".join(old), "".join(new)))
        old.clear()
        new.clear()

    for line in exercise.stub.read_text().splitlines(keepends=True):
        if line.startswith("+++ "):
            close()
            path = line[4:].strip().removeprefix("b/")
        elif line.startswith(("--- ", "diff ", "index ")) or line.startswith("@@"):
            close()
        elif line.startswith(("-", "+", " ")) or line == "\n":
            text = line[1:] if line != "\n" else "\n"
            if not line.startswith("+"):
                old.append(text)
            if not line.startswith("-"):
                new.append(text)
    close()
    return found


def where(exercise: Exercise, root: Path = ROOT) -> str:
    """ "solution", "stub", or "edited" (neither: the learner's own code)."""
    texts = [(root / hunk.path).read_text() for hunk in hunks(exercise)]
    pairs = list(zip(hunks(exercise), texts, strict=True))
    if all(text.count(hunk.solution) == 1 for hunk, text in pairs):
        return "solution"
    if all(text.count(hunk.stub) == 1 for hunk, text in pairs):
        return "stub"
    return "edited"


def patch(exercise: Exercise, to: str, root: Path = ROOT) -> None:
    """Turn the exercise's lines from the solution into the stub (`to="stub"`), or back."""
    for hunk in hunks(exercise):
        old, new = (hunk.solution, hunk.stub) if to == "stub" else (hunk.stub, hunk.solution)
        path = root / hunk.path
        text = path.read_text()
        if text.count(old) != 1:
            raise Refused(
                f"{hunk.path}: the lines exercise {exercise.id} changes are not as it left them."
            )
        path.write_text(text.replace(old, new))


def strip(root: Path = ROOT) -> list[str]:
    """Every stub in place: a starting point for a whole room. The ids done."""
    done = []
    for exercise in (ex for _, ex in all_exercises().values()):
        if where(exercise, root) == "solution":
            patch(exercise, "stub", root)
            done.append(exercise.id)
    return done


def restore(root: Path = ROOT) -> list[str]:
    """Every stub taken back (what `strip` wrote). The ids done."""
    done = []
    for exercise in (ex for _, ex in reversed(all_exercises().values())):
        if where(exercise, root) == "stub":
            patch(exercise, "solution", root)
            done.append(exercise.id)
    return done


# --- What the learner did -----------------------------------------------------------------------


def state_file() -> Path:
    return Settings().workshop_run_dir / "exercises.json"


def load() -> dict:
    try:
        return json.loads(state_file().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def save(state: dict) -> None:
    state_file().parent.mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(state, indent=2))


def record(exercise_id: str, **values) -> dict:
    state = load()
    state.setdefault("exercises", {}).setdefault(exercise_id, {}).update(values)
    save(state)
    return state


def status(exercise_id: str, state: dict) -> str:
    """not started, started, failing or passing (its last verification)."""
    return state.get("exercises", {}).get(exercise_id, {}).get("status", "not started")


def keep(exercise: Exercise, kind: str) -> Path:
    """A copy of the exercise's files, under .run/exercises/<id>/<kind>/ (solution, attempt)."""
    folder = Settings().workshop_run_dir / "exercises" / exercise.id / kind
    for name in exercise.files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, folder / name)
    return folder


def uncommitted(files: tuple[str, ...]) -> list[str]:
    """Those of `files` that git says have changes not committed (none outside a checkout)."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--", *files],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return []
    return [line[3:] for line in done.stdout.splitlines()] if done.returncode == 0 else []


# --- The commands ---------------------------------------------------------------------------------


def list_exercises(console: Console, as_json: bool = False) -> int:
    state = load()
    rows = [
        {
            "id": ex.id,
            "step": step.name,
            "title": ex.title,
            "minutes": ex.minutes,
            "core": ex.core,
            "status": status(ex.id, state),
            "current": state.get("current") == ex.id,
        }
        for step, ex in all_exercises().values()
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    marks = {"passing": "[green]✓[/]", "failing": "[red]✗[/]", "started": "[yellow]…[/]"}
    for step in steps.STEPS.values():
        console.print(f"[bold]{step.name}: {step.title}[/]")
        for row in (r for r in rows if r["step"] == step.name):
            kind = "core   " if row["core"] else "stretch"
            here = "  ← current" if row["current"] else ""
            console.print(
                f"  {marks.get(row['status'], ' ')} {row['id']}  {kind} {row['minutes']:>2} min  "
                f"{row['title']} ({row['status']}){here}",
                highlight=False,
            )
    core = sum(row["minutes"] for row in rows if row["core"])
    console.print(
        f"{len(rows)} exercises, {core} minutes of core ones. Start one: make exercise EX=01.1",
        highlight=False,
    )
    return 0


def start(exercise_id: str, force: bool, console: Console) -> int:
    step, exercise = find(exercise_id)
    changed = uncommitted(exercise.files)
    if changed and not force:
        raise Refused(
            f"{', '.join(changed)} has changes that are not committed: starting {exercise.id} "
            "would write over them. Commit them (or `git stash`), or start anyway: "
            f"make exercise EX={exercise.id} FORCE=1"
        )
    if where(exercise) == "solution":
        keep(exercise, "solution")
        patch(exercise, "stub")
    state = record(exercise.id, status="started", hints=1)
    state["current"] = exercise.id
    save(state)
    console.rule(f"[bold]{exercise.id} {exercise.title}[/] ({exercise.minutes} min)")
    console.print(exercise.goal, highlight=False)
    console.print("\nYour files:", *(f"\n  {name}" for name in exercise.files), highlight=False)
    console.print(f"\nA hint: {exercise.hints[0]}", highlight=False)
    console.print(
        f"\nThen: make verify   (or make watch: verify again at every save). "
        f"`make {step.name}` picks up your edits by itself.",
        highlight=False,
    )
    return 0


def hint(exercise_id: str | None, console: Console) -> int:
    _, exercise = find(exercise_id)
    shown = load().get("exercises", {}).get(exercise.id, {}).get("hints", 0)
    number = min(shown + 1, len(exercise.hints))
    record(exercise.id, hints=number)
    console.print(
        f"Hint {number} of {len(exercise.hints)} for {exercise.id}: {exercise.hints[number - 1]}",
        highlight=False,
    )
    if number == len(exercise.hints):
        console.print("That was the last one: `make solution` shows the whole answer.")
    return 0


def solution(exercise_id: str | None, console: Console) -> int:
    """The solution back in the lesson files; the learner's attempt kept, and its diff shown."""
    _, exercise = find(exercise_id)
    attempt = keep(exercise, "attempt")
    back_to_solution(exercise)
    for name in exercise.files:
        diff = "".join(
            difflib.unified_diff(
                (attempt / name).read_text().splitlines(keepends=True),
                (ROOT / name).read_text().splitlines(keepends=True),
                f"your {name}",
                f"the solution's {name}",
            )
        )
        console.print(Syntax(diff or f"(your {name} was the solution)\n", "diff", word_wrap=True))
    record(exercise.id, status="solution shown")
    console.print(
        f"Your attempt is kept in {attempt}/. `make verify` now passes; "
        "`make exercise EX=...` starts the next one.",
        highlight=False,
    )
    return 0


def back_to_solution(exercise: Exercise) -> None:
    """The exercise's files as the lesson has them: the stub taken back, or, when the learner
    changed more than its lines, the copy kept when it started (else git's)."""
    placed = where(exercise)
    if placed == "stub":
        patch(exercise, "solution")
    elif placed == "edited":
        kept = Settings().workshop_run_dir / "exercises" / exercise.id / "solution"
        if all((kept / name).exists() for name in exercise.files):
            for name in exercise.files:
                shutil.copyfile(kept / name, ROOT / name)
        else:
            subprocess.run(["git", "checkout", "--", *exercise.files], cwd=ROOT, check=True)
        if where(exercise) != "solution":
            raise Refused(
                f"{exercise.id}: its files are not back to the solution; `git status` says "
                "what changed."
            )


def reset(console: Console) -> int:
    """Every exercise back to its solution, the state forgotten (for an instructor)."""
    for _, exercise in all_exercises().values():
        if where(exercise) != "solution":
            console.print(f"{exercise.id}: back to the solution", highlight=False)
            back_to_solution(exercise)
    save({})
    console.print("Every lesson file holds its solution again.")
    return 0


# --- Verifying: the tests, then the live checks ------------------------------------------------


@dataclass
class Outcome:
    label: str
    passed: bool
    message: str = ""


def run_tests(exercise: Exercise, root: Path = ROOT) -> list[Outcome]:
    """The exercise's tests in a fresh interpreter (your code as it is now), one outcome each.
    `root`: the repository whose code they judge (a copy, in the workshop's own tests)."""
    with tempfile.TemporaryDirectory(prefix="verify-") as folder:
        report = Path(folder) / "report.xml"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *exercise.tests, "-q", "-p", "no:cacheprovider"]
            + ["-o", "addopts=", f"--junitxml={report}"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if not report.exists():
            return [Outcome("the tests ran", False, (done.stdout + done.stderr)[-2000:])]
        # Written by pytest itself, a moment ago: not untrusted input.
        cases = ET.parse(report).getroot().iter("testcase")  # noqa: S314
        return [outcome(case) for case in cases]


def outcome(case: ET.Element) -> Outcome:
    """A test's result, its name read as a sentence, its assertion's message as the problem."""
    name = re.sub(r"\[.*\]$", "", case.get("name", ""))
    label = re.sub(r"^test_(\d+_\d+_)?", "", name).replace("_", " ")
    for kind in ("failure", "error", "skipped"):
        problem = case.find(kind)
        if problem is not None:
            text = problem.get("message", "") or (problem.text or "")
            text = re.sub(r"^(AssertionError|Failed): ", "", text).split("\nassert ")[0]
            if kind == "skipped":
                text = f"could not run: {text.removeprefix('Skipped: ')}"
            return Outcome(label, False, text.strip())
    return Outcome(label, True)


def verify(exercise_id: str | None, console: Console) -> int:
    from workshop.checks import Verdicts

    step, exercise = find(exercise_id)
    began = time.monotonic()
    console.rule(f"[bold]{exercise.id} {exercise.title}[/]")
    report = Verdicts(console)
    for result in run_tests(exercise):
        if result.passed:
            report.ok(result.label)
        else:
            report.fail(result.label, result.message)
    if exercise.checks:
        live_checks(step, exercise, report, console)
    stale_workers(step, exercise, console)
    passing = report.failed == 0
    record(exercise.id, status="passing" if passing else "failing", verified_at=time.time())
    took = time.monotonic() - began
    if passing:
        console.print(f"[green]{exercise.id} passes[/] ({took:.1f} s). Next: `make exercises`.")
    else:
        shown = load().get("exercises", {}).get(exercise.id, {}).get("hints", 0)
        more = (
            f"`make hint` (hint {shown + 1} of {len(exercise.hints)})"
            if shown < len(exercise.hints)
            else "`make solution` (every hint is shown)"
        )
        console.print(f"[red]{exercise.id} does not pass yet[/] ({took:.1f} s). Stuck? {more}.")
    return 0 if passing else 1


def live_checks(step: Step, exercise: Exercise, report, console: Console) -> None:
    """The exercise's checks against its running step; a note when the step is not running.
    While another exercise of the step is still a starting point (a stripped branch), the
    running step may fail for it: the checks are shown, and only the tests decide."""
    from workshop.checks import Context, Stop, Verdicts
    from workshop.environment import environment
    from workshop.waiting import wait_until

    pending = [ex.id for ex in step.exercises if ex is not exercise and where(ex) == "stub"]
    if pending:
        report.note(
            f"{', '.join(pending)} still to do in {step.name}: the running step may fail for "
            f"{'it' if len(pending) == 1 else 'them'}, so its checks below do not count"
        )
        report = Verdicts(console)
    env = environment(step)
    url = f"http://127.0.0.1:{env.ports[step.main_port.name]}"
    with httpx.Client(base_url=url, timeout=5) as client:
        context = Context(env, url, 10, client, report)

        def health() -> dict | None:
            try:
                return client.get("/health").json()
            except (httpx.HTTPError, ValueError):
                return None

        # `make stepNN` runs (its pid file is there) and restarts after a save: wait for it.
        restarting = (env.run_dir / "run.pid").exists()
        try:
            context.health = health() or (restarting and wait_until(health, 30, 0.3))
        except TimeoutError:
            context.health = None
        if not context.health:
            report.note(f"{step.name} is not running: its live checks wait for `make {step.name}`")
            return
        try:
            for check in exercise.checks:
                check(context)
        except Stop:
            pass
        except (httpx.HTTPError, ValueError, KeyError) as error:
            report.fail(f"{step.name} stopped answering ({error!r})", f"make {step.name}")


def stale_workers(step: Step, exercise: Exercise, console: Console) -> None:
    """Warn when a running worker of the step started before the last edit: it runs old code."""
    import psutil

    from workshop.tools import launcher_pid

    pid = launcher_pid(step)
    if pid is None:
        return
    edited = max((ROOT / name).stat().st_mtime for name in exercise.files)
    for process in psutil.Process(pid).children(recursive=True):
        try:
            command = " ".join(process.cmdline())
            old = process.create_time() < edited - 1
        except psutil.Error:
            continue
        if old and "celery" in command and " worker" in command:
            console.print(
                f"[yellow]A worker of {step.name} (pid {process.pid}) started before your last "
                f"edit: it runs the code you had then.[/] `make {step.name}` restarts it when a "
                "file changes; restart the step if it did not.",
                highlight=False,
            )
            return


def watch(exercise_id: str | None, console: Console) -> int:
    """Verify now, then again at every save of a lesson file, until Ctrl-C."""
    from watchfiles import watch as changes

    step, exercise = find(exercise_id)
    verify(exercise.id, console)
    folders = sorted({str(ROOT / Path(name).parts[0]) for name in exercise.files})
    console.print(f"Watching {', '.join(folders)}: save a file to verify again (Ctrl-C stops).")
    try:
        for changed in changes(*folders, watch_filter=lambda _, path: is_lesson_file(path)):
            names = ", ".join(sorted(Path(path).name for _, path in changed))
            console.print(f"\n[dim]{time.strftime('%H:%M:%S')} saved: {names}[/]")
            verify(exercise.id, console)
    except KeyboardInterrupt:
        pass
    return 0


def is_lesson_file(path: str) -> bool:
    """What a learner edits: code and configuration, not caches and logs."""
    lesson = Path(path).suffix in {".py", ".conf", ".toml", ".html", ".js"}
    return lesson and "__pycache__" not in path
