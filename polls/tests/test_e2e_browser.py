"""The verification flow in a real browser (Debian's Chromium via Playwright) against a live server.

Codes go to the locmem backend's outbox, which the test reads as a person reads an SMS.
Run with UPDATE_SCREENSHOTS=1 to refresh the README's pictures in docs/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from polls.management.commands.demo import DEMO_PASSWORD, DEMO_USERNAME
from polls.tests.browser import PHONE, Screenshots, chromium, new_page

pytestmark = pytest.mark.browser

POLL_PATH = "/polls/1/"
POLL_TITLE = "What is your favorite kind of dog?"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module; Django may be called while Playwright's event loop runs."""
    # Playwright's sync API keeps an asyncio loop running in this thread, so Django's ORM guard would
    # refuse the test's own queries (fixtures, assertions); the live server runs in its own threads.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with chromium() as launched:
            yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Screenshots:
    return Screenshots.for_run(tmp_path)


@pytest.fixture
def site(live_server: Any, polls_data: None) -> str:
    """The live server's base URL, with the tutorial's polls and user loaded."""
    return str(live_server.url)


def log_in(page: Page, site: str, path: str = POLL_PATH) -> None:
    """Open `path` as an anonymous visitor and log in as the demo user on the page it leads to."""
    page.goto(site + path)
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_label("Username").fill(DEMO_USERNAME)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_log_in_from_a_poll(page: Page, site: str, screenshots: Screenshots) -> None:
    page.goto(site + POLL_PATH)
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    screenshots.take(page, "flow-1-login")

    log_in(page, site)

    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_phone_width_login_page_has_no_horizontal_scroll(browser: Browser, site: str) -> None:
    page = new_page(browser, PHONE)
    page.goto(site + "/login/")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.context.close()
