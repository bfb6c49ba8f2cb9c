"""The canvas page in a real browser: Debian's Chromium, driven by Playwright (no browser
download). A chord is drawn, each node turns SUCCESS; a failing chord is drawn as failed.
Screenshots of the finished graphs go to build/screenshots/."""

from __future__ import annotations

import pytest

from workshop.probe import find_binary
from workshop.settings import ROOT

pytestmark = pytest.mark.needs("rabbitmq", "redis", "chromium")
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture
def page(stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_binary("chromium"), args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 720})
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
            browser.close()


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
