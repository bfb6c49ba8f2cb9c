"""The canvas page in a real browser: Debian's Chromium, driven by Playwright (no browser
download). A chord is drawn, each node turns SUCCESS; a failing chord is drawn as failed; a
chord started with a plain HTTP POST (the lesson's curl) is drawn from /canvas?workflow=<id>
and listed among the recent ones; a narrow window scrolls nothing sideways; an unknown id gets a
message. Screenshots go to build/screenshots/."""

from __future__ import annotations

import uuid

import pytest

from tests.support.browser import chromium
from workshop.settings import ROOT

pytestmark = pytest.mark.needs("rabbitmq", "redis", "chromium")
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:  # one browser for the module: it takes seconds to start
        yield browser


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1100, "height": 720})  # a fresh profile
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        remote = []
        page.on(
            "request", lambda r: None if r.url.startswith(stack.url()) else remote.append(r.url)
        )
        page.goto(f"{stack.url()}/canvas")
        yield page
        assert errors == [], errors
        assert remote == [], f"the page loaded something from elsewhere: {remote}"
    finally:
        context.close()


def run(page, kind: str, fail: bool) -> list[str]:
    page.select_option("select[name=kind]", kind)
    page.set_checked("input[name=fail]", fail)
    page.click("button[type=submit]")
    page.wait_for_selector("#graph[data-finished=yes]")
    return [node.get_attribute("data-state") for node in page.query_selector_all("g.node")]


def test_a_chord_is_drawn_and_every_node_turns_success(page):
    assert run(page, "chord", fail=False) == ["SUCCESS", "SUCCESS", "SUCCESS"]
    assert len(page.query_selector_all("path.edge")) == 2
    assert "19" in page.text_content("#tasks")  # combine's total
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "canvas-chord.png", full_page=True)


def test_a_failing_chord_is_drawn_as_failed(page):
    assert run(page, "chord", fail=True) == ["SUCCESS", "FAILURE", "NOT RUN"]
    assert "multiply failed on purpose" in page.text_content("#tasks")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "canvas-chord-failed.png", full_page=True)


def test_the_api_docs_load_nothing_from_elsewhere(page, stack):
    page.goto(f"{stack.url()}/docs")
    page.wait_for_selector("text=Step 4: FastAPI + Celery canvas")
    page.wait_for_selector("text=Submit a chord")  # Swagger UI read the OpenAPI 3.1 schema


def states(page) -> list[str]:
    return [node.get_attribute("data-state") for node in page.query_selector_all("g.node")]


def started(stack, kind: str, **body) -> str:
    """A workflow started as the lesson's curl starts it: one POST, from outside the page."""
    with stack.client() as client:
        answer = client.post(f"/workflows/{kind}", json={"a": 3, "b": 4, **body})
    assert answer.status_code == 202, answer.text
    return answer.json()["workflow_id"]


def test_a_chord_started_with_curl_is_drawn_from_its_id_and_listed(page, stack):
    solo = started(stack, "solo", task="multiply")
    chord = started(stack, "chord")
    page.goto(f"{stack.url()}/canvas?workflow={chord}")
    page.wait_for_selector(f"#graph[data-workflow='{chord}'][data-finished=yes]")
    assert states(page) == ["SUCCESS", "SUCCESS", "SUCCESS"]
    assert len(page.query_selector_all("path.edge")) == 2
    assert "19" in page.text_content("#tasks")  # combine's total
    # The graph spreads over the width it has: from its left box to its right one, most of it.
    graph = page.locator("#graph").bounding_box()
    boxes = [page.locator(f"g.node >> nth={n} >> rect").bounding_box() for n in range(3)]
    spread = max(b["x"] + b["width"] for b in boxes) - min(b["x"] for b in boxes)
    assert spread > 0.8 * graph["width"], (spread, graph)
    # Both are listed, the newest first, and the one shown is marked.
    listed = page.locator("#recent a").evaluate_all("links => links.map(a => a.dataset.id)")
    assert listed.index(chord) < listed.index(solo), listed
    assert page.get_attribute(f"#recent a[data-id='{chord}']", "aria-current") == "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "canvas-from-url.png", full_page=True)
    # A click in the list shows the other one, and the URL follows (Back goes back).
    page.click(f"#recent a[data-id='{solo}']")
    page.wait_for_selector(f"#graph[data-workflow='{solo}'][data-finished=yes]")
    assert page.url.endswith(f"/canvas?workflow={solo}")
    assert states(page) == ["SUCCESS"] and "12" in page.text_content("#tasks")
    page.go_back()
    page.wait_for_selector(f"#graph[data-workflow='{chord}'][data-finished=yes]")


def test_a_narrow_window_scrolls_nothing_sideways(page, stack):
    chord = started(stack, "chord", fail=True)  # the longest texts: a ChordError
    page.set_viewport_size({"width": 600, "height": 800})
    page.goto(f"{stack.url()}/canvas?workflow={chord}")
    page.wait_for_selector("#graph[data-finished=yes]")
    assert states(page) == ["SUCCESS", "FAILURE", "NOT RUN"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 600, f"the page is {width} px wide in a 600 px window"
    for part in ("#graph", ".table-box", "#recent-box"):
        box = page.locator(part).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 600, (part, box)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "canvas-narrow.png", full_page=True)


@pytest.mark.parametrize(
    ("workflow", "said"),
    [(str(uuid.UUID(int=1)), "No workflow with the id"), ("not-an-id", "is not a workflow id")],
    ids=["unknown", "malformed"],
)
def test_an_unknown_or_malformed_id_gets_a_message(page, stack, workflow, said):
    page.goto(f"{stack.url()}/canvas?workflow={workflow}")
    page.wait_for_selector("#status.error")
    message = page.text_content("#status")
    assert workflow in message and said in message, message
    assert page.query_selector_all("g.node") == []
    page.wait_for_selector("#recent li")  # the rest of the page works: the list is there
    if said.startswith("No"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "canvas-unknown-id.png", full_page=True)
