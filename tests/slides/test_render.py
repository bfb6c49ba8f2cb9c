"""The built decks in a real browser, Debian's Chromium driven by Playwright (no browser
download): the first and the last slide of each deck show something, no slide's content runs
into its footer, and nothing is requested from the network. Screenshots go to
build/screenshots/slides/."""

from __future__ import annotations

import io

import pytest

from tests.support.browser import chromium
from tests.support.services import require
from workshop.settings import ROOT
from workshop.tools import slides

SHOTS = ROOT / "build" / "screenshots" / "slides"
NAMES = [deck.stem for deck in slides.decks()]
# Each slide's content (the section, not its layers of background images), and how far below
# the top of its footer it reaches: > 0 means the content runs into the footer or off the slide.
OVERFLOWS = """() => [...document.querySelectorAll('svg[data-marpit-svg]')].map(svg => {
    const section = svg.querySelector('section:not([data-marpit-advanced-background]), '
        + 'section[data-marpit-advanced-background=content]');
    const top = section.getBoundingClientRect().top;
    const footer = section.querySelector(':scope > footer');
    const limit = footer ? footer.getBoundingClientRect().top - top : section.offsetHeight;
    const parts = [...section.querySelectorAll(':scope > :not(header):not(footer)')];
    return Math.max(0, ...parts.map(part => part.getBoundingClientRect().bottom - top)) - limit;
})"""


@pytest.fixture(scope="module")
def browser():
    require("chromium")
    with chromium() as browser:
        yield browser


def ink(png: bytes, footer: float = 0) -> float:
    """The share of the pixels that differ from the background colour, above the bottom
    `footer` share of the image (where a slide's footer and page number are), and inside a
    margin of 1% left and right (where the browser may letterbox the slide in black)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    margin = round(image.width * 0.01)
    image = image.crop((margin, 0, image.width - margin, round(image.height * (1 - footer))))
    colours = image.getcolors(maxcolors=image.width * image.height)
    background = max(colours)[0]
    return 1 - background / (image.width * image.height)


@pytest.mark.parametrize("name", NAMES)
def test_the_first_and_last_slides_render(built, browser, name):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    remote, errors = [], []
    local = ("file:", "data:", "about:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else remote.append(r.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        url = (built / f"{name}.html").as_uri()
        page.goto(url)
        count = page.locator("svg[data-marpit-svg]").count()
        overflows = page.evaluate(OVERFLOWS)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for number in (1, count):
            page.goto(f"{url}#{number}")
            page.wait_for_function(
                "n => document.querySelectorAll('svg[data-marpit-svg]')[n - 1]"
                ".classList.contains('bespoke-marp-active')",
                arg=number,
            )
            # The slide alone: no on-screen controller, no progress bar; no footer line.
            page.add_style_tag(
                content=".bespoke-marp-osc, .bespoke-progress-parent {display: none !important}"
            )
            png = page.locator("svg[data-marpit-svg]").nth(number - 1).screenshot()
            (SHOTS / f"{name}-{number}.png").write_bytes(png)
            assert ink(png, footer=0.1) > 0.004, f"{name}, slide {number} of {count} looks blank"
    finally:
        page.close()
    assert remote == [], f"{name} requested from the network: {remote}"
    assert errors == [], errors
    too_long = {number: round(px) for number, px in enumerate(overflows, 1) if px > 0}
    assert too_long == {}, f"{name}: content runs into the footer (slide: pixels) {too_long}"


def test_a_blank_slide_would_be_seen(browser):
    page = browser.new_page(viewport={"width": 320, "height": 200})
    try:
        page.set_content("<body style='margin:0;background:#fff'></body>")
        assert ink(page.screenshot()) == 0
        page.set_content("<body style='margin:0'><h1>Step 1</h1></body>")
        assert ink(page.screenshot()) > 0.004
    finally:
        page.close()
