"""Debian's Chromium driven by Playwright for the end-to-end tests, and the screenshots the README shows.

The browser is never downloaded: it is the `chromium` package from apt (`.ci/run` installs it). Without
it the browser tests skip locally and fail with CI=true.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

BASE_DIR = Path(__file__).resolve().parents[2]
DOCS_DIR = BASE_DIR / "docs"
#: Set to 1 to write the screenshots into docs/ (what the README shows); otherwise they go to a temp dir.
UPDATE_SCREENSHOTS = "UPDATE_SCREENSHOTS"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 800, "height": 560}
PHONE = {"width": 375, "height": 667}
#: Playwright's wait for a page or an element; generous, since CI shares two cores.
TIMEOUT_MS = 15_000


def chromium_executable() -> str:
    """Return the path of Debian's chromium; skip the test without it (fail with CI=true)."""
    path = shutil.which("chromium")
    if path:
        return path
    reason = "Chromium is not installed: `sudo apt-get install chromium` to run the browser tests"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required with CI=true)", pytrace=False)
    pytest.skip(reason)
    raise AssertionError("unreachable")  # pytest.skip raises; this keeps type checkers content


@contextmanager
def chromium() -> Iterator[Browser]:
    """Launch Debian's chromium, headless, without any network of its own beyond the pages it loads."""
    executable = chromium_executable()
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Page:
    """Open a page in a fresh context (its own cookies) with a fixed size, language and colour scheme."""
    context = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        device_scale_factor=1,
        locale="en-US",
        color_scheme="light",
        reduced_motion="reduce",
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@dataclass
class Screenshots:
    """Saves a PNG of the visible page per step, into docs/ when UPDATE_SCREENSHOTS=1."""

    directory: Path

    @classmethod
    def for_run(cls, tmp_path: Path) -> Screenshots:
        if os.environ.get(UPDATE_SCREENSHOTS) == "1":
            DOCS_DIR.mkdir(exist_ok=True)
            return cls(DOCS_DIR)
        return cls(tmp_path)

    def take(self, page: Page, name: str) -> Path:
        """Save the viewport of `page` as `<name>.png` and return its path."""
        path = self.directory / f"{name}.png"
        # The viewport, not the full page: the README wants small pictures of what a person sees.
        page.screenshot(path=str(path), animations="disabled", caret="hide")
        return path
