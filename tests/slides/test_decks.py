"""`make slides` builds the five decks offline: every piece of code they name is in the
repository, nothing they show comes from the internet, and their timings add up to the plan of
the day."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta
from html import unescape as html_unescape

from tests.support.commands import run
from workshop import offline
from workshop.settings import ROOT
from workshop.steps import STEPS
from workshop.tools import slides
from workshop.tools.snippets import snippet

DECKS = slides.decks()
NAMES = ["00_overview", "01_flask_celery", "02_nginx_gunicorn", "03_django_rabbitmq"]
NAMES.append("04_fastapi_canvas")
# A reference a browser would follow to another host: in src=, href=, url(...) or @import.
REMOTE = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)


def test_five_decks_are_built_to_html(built):
    assert [deck.stem for deck in DECKS] == NAMES
    assert sorted(path.stem for path in built.glob("*.html")) == NAMES
    for name in NAMES:
        html = (built / f"{name}.html").read_text()
        assert html.count("<svg data-marpit-svg") >= 8, f"{name}.html has too few slides"


def test_nothing_is_loaded_from_the_internet(built):
    files = [*built.glob("*.html"), *built.glob("diagrams/*.svg")]
    assert len(files) >= 5 + 6, files
    for path in files:
        text = path.read_text()
        found = [text[m.start() : m.end() + 50] for m in REMOTE.finditer(text)]
        assert found == [], f"{path.name} would load from the internet: {found}"
        assert "twemoji" not in text and "katex" not in text.lower(), path.name
    # Our own reading of a page agrees (the build refuses a page that has one).
    sample = '<img src="https://cdn.example/x.png"> <a href="//x.org/"> url(http://x/f.woff)'
    assert len(REMOTE.findall(sample)) == len(offline.remote_references(sample)) == 3
    assert offline.remote_references('<svg xmlns="http://www.w3.org/2000/svg"> url(data:x)') == []


def test_every_piece_of_code_on_the_slides_is_the_repositorys(built):
    count = 0
    for deck in DECKS:
        expanded = (built / deck.name).read_text()
        assert "\n<<<" not in expanded, f"{deck.name}: an include was left as it is"
        for include in slides.includes(deck):
            piece = snippet(ROOT / include.path, include.selector, include.text)
            assert piece.code in expanded, f"{include.where}: {include.name}"
            count += 1
    assert count >= 15  # the step decks show their key code


def test_every_diagram_is_drawn_next_to_its_deck(built):
    for deck in DECKS:
        for target in re.findall(r"\]\((diagrams/[\w-]+)\.dot\)", deck.read_text()):
            svg = built / f"{target}.svg"
            assert svg.is_file(), f"{deck.name}: {target}.dot was not drawn"
            assert f"{target}.svg" in (built / f"{deck.stem}.html").read_text()
            assert "<svg" in svg.read_text()


def test_a_missing_piece_of_code_stops_the_build_with_its_deck_line_file_and_name(tmp_path):
    deck = tmp_path / "99_broken.md"
    deck.write_text(
        "---\nmarp: true\n---\n\n# A slide\n\n<!-- 1 min: x -->\n\n"
        "```python\n<<< this line is code on the slide, not an include\n```\n\n"
        "<<< step01_flask_celery/app/tasks.py#process_dat\n"
    )
    done = run(
        [sys.executable, "-m", "workshop", "slides", str(deck), "--out", str(tmp_path)], None, 60
    )
    assert done.returncode == 1
    message = " ".join(done.stdout.split())  # rich may wrap a long line
    assert f"{deck}, line 13" in message, message
    assert "step01_flask_celery/app/tasks.py#process_dat" in message, message
    assert "no 'process_dat' in the module (it defines: " in message, message
    assert "process_data" in message.split("process_dat:")[1], message
    assert not (tmp_path / "99_broken.html").exists()

    deck.write_text("---\nmarp: true\n---\n\n<<< step01_flask_celery/no_such_file.py#create_app\n")
    done = run(
        [sys.executable, "-m", "workshop", "slides", str(deck), "--out", str(tmp_path)], None, 60
    )
    assert done.returncode == 1
    assert "there is no file" in done.stdout and "no_such_file.py" in done.stdout, done.stdout


def plan() -> list[tuple[datetime, str, int | None, str | None]]:
    """The rows of the overview's plan of the day: start, what, minutes, deck."""
    text = (slides.SLIDES / "00_overview.md").read_text().split("## The plan of the day")[1]
    rows = []
    for line in re.findall(r"^\| \d\d:\d\d \|.*\|$", text, re.M):
        start, what, minutes, deck = (cell.strip().strip("`") for cell in line.split("|")[1:-1])
        when = datetime.strptime(start, "%H:%M")
        rows.append((when, what, int(minutes) if minutes else None, deck or None))
    return rows


def test_the_plan_of_the_day_adds_up():
    rows = plan()
    assert len(rows) >= 9 and rows[-1][1] == "End" and rows[-1][2] is None
    for (start, what, minutes, _), (following, *_) in zip(rows, rows[1:], strict=False):
        assert start + timedelta(minutes=minutes) == following, (
            f"{what} does not end at {following}"
        )
    assert [deck for *_, deck in rows if deck] == NAMES


def test_each_deck_takes_the_minutes_of_its_row_and_of_its_lesson(built):
    for _, what, minutes, deck in plan():
        if not deck:
            continue
        timings = slides.timings((built / f"{deck}.html").read_text())
        untimed = [number for number, minute in enumerate(timings, 1) if minute is None]
        assert untimed == [], f"{deck}: slides {untimed} have no `<!-- N min: ... -->` note"
        assert sum(timings) == minutes, f"{deck}: the notes add up to {sum(timings)}, not {minutes}"
        if deck != "00_overview":
            lesson = (ROOT / f"step{deck}" / "README.md").read_text()
            assert f"About {minutes} minutes" in lesson, f"{what}: the lesson says another time"


def test_each_exercise_has_its_slide_in_its_steps_deck_with_its_minutes(built):
    for step in STEPS.values():
        deck = next(d for d in DECKS if d.stem == step.folder.removeprefix("step"))
        named = re.findall(r"^<<< exercise (\S+)$", deck.read_text(), re.M)
        assert sorted(named) == [ex.id for ex in step.exercises], f"{deck.name}: {named}"
        html = (built / f"{deck.stem}.html").read_text()
        for ex in step.exercises:
            assert f"Your turn, {ex.id}: {ex.title}" in html_unescape(html), ex.id
            assert f"make exercise EX={ex.id}" in html, ex.id
            budget = ex.minutes if ex.core else 0  # a stretch one is not in the plan
            assert f"{budget} min: " in html.split(f"Your turn, {ex.id}:")[1], ex.id


def test_an_exercise_that_is_not_declared_stops_the_build(tmp_path):
    deck = tmp_path / "99_broken.md"
    deck.write_text("---\nmarp: true\n---\n\n<<< exercise 09.9\n")
    done = run(
        [sys.executable, "-m", "workshop", "slides", str(deck), "--out", str(tmp_path)], None, 60
    )
    assert done.returncode == 1
    message = " ".join(done.stdout.split())
    assert f"{deck}, line 5: no exercise 09.9 (01.1," in message, message


def test_every_make_command_on_the_slides_exists():
    targets = set(re.findall(r"^([a-zA-Z0-9_-]+):", (ROOT / "Makefile").read_text(), re.M))
    for deck in DECKS:
        for target in re.findall(r"\bmake ([a-z0-9][a-z0-9_-]*)", deck.read_text()):
            assert target in targets, f"{deck.name} mentions `make {target}`, not in the Makefile"
