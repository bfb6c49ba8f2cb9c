"""Debian's Chromium, driven by Playwright (no browser download): one per module or test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from workshop.probe import find_binary


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (Playwright's Browser), closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_binary("chromium"), args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()
