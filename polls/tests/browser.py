"""Debian's Chromium driven by Playwright for the end-to-end tests, and the screenshots the README shows.

The browser is never downloaded: it is the `chromium` package from apt (`.ci/run` installs it). Without
it the browser tests skip locally and fail with CI=true. The same goes for axe-core, the accessibility
checker run on every page of the flow: `.ci/run` installs it from npm into .ci/axe/node_modules/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

BASE_DIR = Path(__file__).resolve().parents[2]
DOCS_DIR = BASE_DIR / "docs"
#: axe-core as `npm ci --prefix .ci/axe` installs it (the version is pinned in .ci/axe/package-lock.json).
AXE_SCRIPT = BASE_DIR / ".ci" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
#: What axe checks: WCAG 2.0 and 2.1, levels A and AA, and its best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
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


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test for want of a tool; fail it instead with CI=true, where every tool is required."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required with CI=true)", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str:
    """Return the path of Debian's chromium; skip the test without it (fail with CI=true)."""
    path = shutil.which("chromium")
    if path:
        return path
    skip_or_fail("Chromium is not installed: `sudo apt-get install chromium` to run the browser tests")


def axe_script() -> Path:
    """Return the path of axe-core's script; skip the test without it (fail with CI=true)."""
    if AXE_SCRIPT.is_file():
        return AXE_SCRIPT
    skip_or_fail("axe-core is not installed: `npm ci --prefix .ci/axe` to check the pages' accessibility")


def format_violation(violation: dict[str, Any]) -> str:
    """Describe one axe violation: its rule, impact, help and the CSS targets of the nodes breaking it."""
    targets = "; ".join(" ".join(map(str, node["target"])) for node in violation["nodes"])
    return f"{violation['id']} ({violation['impact']}): {violation['help']} [{targets}] {violation['helpUrl']}"


def assert_accessible(page: Page, name: str) -> None:
    """Run axe-core on the page as it is now; fail listing every WCAG 2.1 A/AA or best-practice violation.

    `name` says which page (or state of a page) this is, for the failure message.
    """
    script = axe_script()
    page.add_script_tag(path=str(script))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    violations = results["violations"]
    assert not violations, f"axe found {len(violations)} violation(s) on {name} ({page.url}):\n" + "\n".join(
        f"- {format_violation(violation)}" for violation in violations
    )


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
