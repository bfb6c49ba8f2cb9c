"""`make slides`: the instructor decks of slides/ built to HTML under build/slides/, offline.

Before Marp CLI reads a deck, two things in it are filled in from the repository, so a slide
can never show code the workshop no longer has, nor an old diagram:

- A line ``<<< path#selector`` becomes that code, read from the file now (workshop/tools/snippets.py
  says what a selector can name: a Python symbol, an INI section, a block in braces). After the
  selector, a text in backticks narrows a Python symbol to the statement that contains it:
  ``<<< step04_fastapi_canvas/workflows.py#submit `for saved in```. A name that is not there
  stops the build, with the deck, the line, the file and the name.
- A line ``<<< exercise 01.2`` becomes that exercise's slide, from its declaration
  (workshop/steps/stepNN.py): the title, the goal, the files, the commands, and presenter notes
  with its minutes (0 for a stretch one: the plan does not count it) and its hints.
- An image ``![...](diagrams/hops.dot)`` is a Graphviz file: ``dot -Tsvg`` draws it next to the
  deck's HTML, and the slide shows the SVG.

Then Marp CLI (slides/node_modules, pinned in slides/package-lock.json; `make slides` installs
it with `npm ci`) turns each deck into one HTML file, with slides/.marprc.yml: no emoji images,
no math fonts, no remote theme. A page that would load anything from the internet fails the
build. `make slides-pdf` (``--pdf``) prints PDFs too, with Debian's Chromium.

    python -m workshop slides [--pdf] [--out build/slides] [slides/01_flask_celery.md ...]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from workshop import steps
from workshop.offline import remote_references
from workshop.probe import find_binary
from workshop.settings import PROGRAM_FIXES, ROOT
from workshop.tools.snippets import NotFound, snippet

SLIDES = ROOT / "slides"
OUT = ROOT / "build" / "slides"
CONFIG = SLIDES / ".marprc.yml"
MARP = SLIDES / "node_modules" / ".bin" / "marp"

# `<<< path`, `<<< path#selector`, `<<< path#selector `text``: on a line of its own.
INCLUDE = re.compile(
    r"^<<<\s+(?P<path>[^\s#]+)(?:#(?P<selector>[^`]*?))?(?:\s+`(?P<text>[^`]+)`)?\s*$"
)
EXERCISE = re.compile(r"^<<<\s+exercise\s+(?P<id>\S+)\s*$")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
DIAGRAM = re.compile(r"(!\[[^\]]*\]\()([^)\s]+\.dot)(\))")
# Presenter notes start with their timing: <!-- 5 min: ... -->
TIMING = re.compile(r"^\s*(\d+)\s*min\b")
NOTE = re.compile(r"<!--(?P<text>\s*\d+\s*min\b.*?)-->", re.DOTALL)


class BuildError(Exception):
    """A deck cannot be built; the message names the deck, the line and what is wrong."""


@dataclass
class Include:
    deck: Path
    line: int
    path: str
    selector: str | None
    text: str | None

    @property
    def where(self) -> str:
        return f"{shown(self.deck)}, line {self.line}"

    @property
    def name(self) -> str:
        name = self.path + (f"#{self.selector}" if self.selector else "")
        return name + (f" `{self.text}`" if self.text else "")


def shown(path: Path) -> str:
    """A path as the learner would type it: from the top of the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def decks(folder: Path = SLIDES) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.md"))


def outside_fences(text: str):
    """Each line with its number, and whether it is outside a fenced code block."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        found = FENCE.match(line)
        if fence is None and found:
            fence = found.group(1)
            yield number, line, False
        elif fence is not None:
            if found and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence):
                fence = None
            yield number, line, False
        else:
            yield number, line, True


def included(deck: Path, number: int, match: re.Match) -> Include:
    selector = (match["selector"] or "").strip() or None
    return Include(deck, number, match["path"], selector, match["text"])


def includes(deck: Path) -> list[Include]:
    """Every `<<<` line of a deck."""
    found = []
    for number, line, outside in outside_fences(deck.read_text()):
        match = INCLUDE.match(line) if outside else None
        if match:
            found.append(included(deck, number, match))
    return found


def code_block(include: Include) -> str:
    """The Markdown that replaces a `<<<` line: the code, then a caption naming its source."""
    try:
        piece = snippet(ROOT / include.path, include.selector, include.text)
    except NotFound as error:
        raise BuildError(f"{include.where}: {include.name}: {error}") from None
    except SyntaxError as error:
        raise BuildError(f"{include.where}: {include.path} is not valid Python: {error}") from None
    longest = max((len(run) for run in re.findall(r"`+", piece.code)), default=0)
    fence = "`" * max(3, longest + 1)
    if include.selector is None:
        source = include.path
    elif piece.first == piece.last:
        source = f"{include.path}, line {piece.first}"
    else:
        source = f"{include.path}, lines {piece.first}-{piece.last}"
    source = re.sub(r"([\\`*_\[\]<>])", r"\\\1", source)  # shown as written: __init__.py
    return f"{fence}{piece.language}\n{piece.code}\n{fence}\n\n*{source}*\n"


def exercise_slide(deck: Path, number: int, exercise_id: str) -> str:
    """The Markdown that replaces `<<< exercise 01.2`: the exercise's slide, notes included."""
    found = {ex.id: ex for step in steps.STEPS.values() for ex in step.exercises}
    if exercise_id not in found:
        declared = ", ".join(found)
        raise BuildError(f"{shown(deck)}, line {number}: no exercise {exercise_id} ({declared})")
    ex = found[exercise_id]
    kind = "core" if ex.core else "stretch, for who is ahead"
    files = ", ".join(f"`{name}`" for name in ex.files)
    hints = " ".join(f"{n}. {hint}" for n, hint in enumerate(ex.hints, 1))
    budget = (
        f"{ex.minutes} min: everyone, core exercise."
        if ex.core
        else f"0 min: stretch, not in the plan; {ex.minutes} min for who is ahead."
    )
    return (
        f"## Your turn, {ex.id}: {ex.title}\n\n*{ex.minutes} min, {kind}*. Edit {files}.\n\n"
        f"{ex.goal}\n\n```bash\nmake exercise EX={ex.id}   # the starting point, the goal\n"
        "make verify             # ✓ or ✗, and what is still wrong\n"
        "make hint               # stuck? the next hint\n```\n\n"
        f"<!--\n{budget} The hints, gentle to explicit: {hints} "
        "Any correct answer passes: the checks run the code. `make solution` shows the "
        "lesson's own.\n-->\n"
    )


def draw(deck: Path, target: str, out: Path, drawn: dict[Path, Path]) -> str:
    """Render a diagram's .dot file to SVG under `out`; its path relative to the deck's HTML."""
    source = (deck.parent / target).resolve()
    relative = Path(target).with_suffix(".svg")
    if source not in drawn:
        if not source.is_file():
            raise BuildError(f"{shown(deck)}: the diagram {target} does not exist ({source})")
        dot = find_binary("dot")
        if not dot:
            raise BuildError(f"Graphviz is not installed: {PROGRAM_FIXES['dot']}")
        svg = out / relative
        svg.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [dot, "-Tsvg", str(source), "-o", str(svg)], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise BuildError(f"{shown(deck)}: dot could not draw {target}:\n{done.stderr.strip()}")
        drawn[source] = svg
    return relative.as_posix()


def expand(deck: Path, out: Path, drawn: dict[Path, Path] | None = None) -> str:
    """The deck's Markdown with its code included and its diagrams drawn (into `out`)."""
    drawn = {} if drawn is None else drawn
    lines = []
    for number, line, outside in outside_fences(deck.read_text()):
        match = INCLUDE.match(line) if outside else None
        exercise = EXERCISE.match(line) if outside else None
        if exercise:
            lines.append(exercise_slide(deck, number, exercise["id"]))
        elif match:
            lines.append(code_block(included(deck, number, match)))
        elif outside:
            lines.append(
                DIAGRAM.sub(lambda m: m[1] + draw(deck, m[2], out, drawn) + m[3], line) + "\n"
            )
        else:
            lines.append(line + "\n")
    return NOTE.sub(unwrapped, "".join(lines))


def unwrapped(note: re.Match) -> str:
    """A presenter note with its lines joined: the presenter view breaks the lines where the
    Markdown does, so a note wrapped for the editor reads ragged there. A blank line stays."""
    paragraphs = re.split(r"\n\s*\n", note["text"].strip())
    return "<!--\n" + "\n\n".join(" ".join(p.split()) for p in paragraphs) + "\n-->"


def timings(html: str) -> list[int | None]:
    """Each slide's minutes, from the presenter notes of a built deck (None: no timing)."""
    slides = html.count("<svg data-marpit-svg")
    notes = re.findall(r'class="bespoke-marp-note" data-index="(\d+)"[^>]*>(.*?)</div>', html, re.S)
    found: list[int | None] = [None] * slides
    for index, note in notes:
        timing = TIMING.match(re.sub(r"<[^>]+>", "", note))
        if timing and found[int(index)] is None:
            found[int(index)] = int(timing.group(1))
    return found


def marp(markdown: list[Path], pdf: bool) -> None:
    """Run Marp CLI on the expanded decks: HTML (or PDF) next to each."""
    if not find_binary("node"):
        raise BuildError(f"Node.js is not installed: {PROGRAM_FIXES['node']}")
    if not MARP.exists():
        raise BuildError(
            "Marp CLI is not in slides/node_modules: `make slides` installs it (npm ci)"
        )
    command = [str(MARP), "--config-file", str(CONFIG), "--no-stdin"]
    env = os.environ.copy()
    if pdf:
        chromium = find_binary("chromium")
        if not chromium:
            fix = PROGRAM_FIXES["chromium"]
            raise BuildError(f"Chromium prints the PDFs, and it is not installed: {fix}")
        # The decks' diagrams are local files; as root Chromium only runs without its sandbox.
        command += ["--pdf", "--allow-local-files", "--browser-path", chromium]
        if os.geteuid() == 0:
            env["CHROME_NO_SANDBOX"] = "1"
    done = subprocess.run(
        [*command, *map(str, markdown)], capture_output=True, text=True, env=env, timeout=300
    )
    if done.returncode != 0:
        raise BuildError(f"Marp CLI failed:\n{done.stdout}{done.stderr}".strip())


def build(
    console: Console, pdf: bool = False, out: Path = OUT, only: list[Path] | None = None
) -> int:
    began = time.monotonic()
    sources = [path.resolve() for path in only] if only else decks()
    if not sources:
        console.print("✗ no deck to build (slides/NN_name.md)", highlight=False)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    if not only:  # the whole set: nothing left from a deck that is gone
        for old in [*out.glob("*.md"), *out.glob("*.html"), *out.glob("*.pdf")]:
            old.unlink()
        shutil.rmtree(out / "diagrams", ignore_errors=True)
    try:
        drawn: dict[Path, Path] = {}
        expanded = []
        for deck in sources:
            markdown = out / deck.name
            markdown.write_text(expand(deck, out, drawn))
            expanded.append(markdown)
        marp(expanded, False)
        if pdf:
            marp(expanded, True)
        problems = [
            f"{shown(path)}: {reference}"
            for path in [*(m.with_suffix(".html") for m in expanded), *drawn.values()]
            for reference in remote_references(path.read_text())
        ]
        if problems:
            raise BuildError("these would load from the internet:\n" + "\n".join(problems))
    except BuildError as error:
        console.print(f"✗ {error}", highlight=False)
        return 1
    for deck, markdown in zip(sources, expanded, strict=True):
        html = markdown.with_suffix(".html")
        minutes = timings(html.read_text())
        pieces = len(includes(deck))
        line = (
            f"✓ {deck.name} → {shown(html)}{' and .pdf' if pdf else ''}: {len(minutes)} slides, "
            f"{sum(m or 0 for m in minutes)} min in the notes, {pieces} pieces of code"
        )
        console.print(line, highlight=False)
    console.print(
        f"Built in {time.monotonic() - began:.0f} s. Open {shown(out)}/00_overview.html in a "
        "browser (no network needed); P opens the presenter view with the notes.",
        highlight=False,
    )
    return 0
