"""The verification flow in a real browser (Debian's Chromium via Playwright) against a live server.

Codes go to the locmem backend's outbox, which the test reads as a person reads an SMS. axe-core checks
every page of the flow, under Pollstr's layout and under the app's standalone one.
Run with UPDATE_SCREENSHOTS=1 to refresh the pictures in docs/ (the README and the docs show them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from polls.management.commands.demo import DEMO_PASSWORD, DEMO_USERNAME
from polls.tests.browser import PHONE, Screenshots, assert_accessible, chromium, new_page
from verification.backends.locmem import outbox
from verification.conf import conf
from verification.models import VerifiedNumber

pytestmark = pytest.mark.browser

POLL_PATH = "/polls/1/"
POLL_TITLE = "What is your favorite kind of dog?"
#: phonenumbers' own example of a UK mobile number (the one the form's help text shows).
NUMBER = "+447911123456"
TYPED_NUMBER = "+44 7911 123456"
#: Too few digits for a UK mobile: the number form shows a field error.
SHORT_NUMBER = "+44 7911 12"
MASKED_NUMBER = "+44 •••• ••3456"
NEW_NUMBER = "+447400654321"
#: `next` naming the poll, percent-encoded or not.
NEXT_POLL = r"\?next=(%2F|/)polls(%2F|/)1(%2F|/)$"
#: The layouts the flow's pages extend (VERIFICATION_BASE_TEMPLATE): Pollstr's own, and the app's standalone one.
POLLSTR_LAYOUT = "base.html"
STANDALONE_LAYOUT = "verification/layout.html"
#: The stylesheet only the standalone layout links.
STANDALONE_STYLESHEET = "link[rel=stylesheet][href$='/verification/verification.css']"


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


def log_in(page: Page, site: str, path: str = POLL_PATH, screenshots: Screenshots | None = None) -> None:
    """Open `path` as an anonymous visitor and log in as the demo user on the page it leads to."""
    page.goto(site + path)
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_label("Username").fill(DEMO_USERNAME)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    if screenshots:
        screenshots.take(page, "flow-1-login")
    page.get_by_role("button", name="Log in").click()


def send_code(page: Page, number: str = NUMBER) -> None:
    """On the phone step, ask for a code to `number`; wait for the code step."""
    expect(page).to_have_url(re.compile(r"/verify/\?next="))
    page.get_by_label("Mobile phone number").fill(number)
    page.get_by_role("button", name="Send code").click()
    expect(page).to_have_url(re.compile(r"/verify/confirm/"))


def type_a_wrong_code_then_the_right_one(page: Page) -> None:
    """On the code step, at a phone's width: a wrong code is explained, then the right one is typed (not sent)."""
    assert not has_horizontal_scroll(page)
    page.get_by_label("Code", exact=True).fill(wrong_code_for(latest_code()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right.")).to_be_visible()
    assert not has_horizontal_scroll(page)
    page.get_by_label("Code", exact=True).fill(latest_code())


def latest_code(number: str = NUMBER) -> str:
    """Read the newest code sent to `number`, as its owner reads the SMS."""
    messages = [message for message in outbox if message.number == number]
    assert messages, f"no code was sent to {number}"
    return messages[-1].code


def wrong_code_for(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def has_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def test_the_flow_from_a_poll_through_verification_to_its_results(
    page: Page, site: str, screenshots: Screenshots
) -> None:
    log_in(page, site, screenshots=screenshots)

    expect(page).to_have_url(re.compile(r"/verify/" + NEXT_POLL))
    expect(page.get_by_role("heading", name="Verify your phone number")).to_be_visible()
    page.get_by_label("Mobile phone number").fill(TYPED_NUMBER)
    screenshots.take(page, "flow-2-phone")
    page.get_by_role("button", name="Send code").click()

    expect(page).to_have_url(re.compile(r"/verify/confirm/" + NEXT_POLL))
    expect(page.get_by_text(f"We sent a code to {MASKED_NUMBER} by text message.")).to_be_visible()
    assert [message.number for message in outbox] == [NUMBER]
    page.get_by_label("Code", exact=True).fill(latest_code())
    screenshots.take(page, "flow-3-code")
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(site + POLL_PATH)
    expect(page.get_by_role("heading", name=POLL_TITLE)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(f"{MASKED_NUMBER} is verified")
    screenshots.take(page, "flow-4-poll")
    page.get_by_label("A beagle").check()
    page.get_by_role("button", name="Vote").click()

    expect(page).to_have_url(f"{site}/polls/1/results/")
    expect(page.get_by_role("listitem").filter(has_text="A beagle")).to_have_text("1 vote: A beagle")
    screenshots.take(page, "flow-5-results")


def test_a_wrong_code_is_explained_next_to_the_field(page: Page, site: str, screenshots: Screenshots) -> None:
    log_in(page, site)
    send_code(page)
    code_field = page.get_by_label("Code", exact=True)

    code_field.fill(wrong_code_for(latest_code()))
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(re.compile(r"/verify/confirm/"))
    message = "That code is not right. You can try 4 more times."
    expect(code_field).to_have_accessible_description(re.compile(re.escape(message)))
    expect(code_field).to_have_attribute("aria-invalid", "true")
    error = page.get_by_text(message)
    expect(error).to_have_attribute("id", "id_code_error")
    field_box, error_box = code_field.bounding_box(), error.bounding_box()
    assert field_box is not None
    assert error_box is not None
    # Next to the field: right under it, aligned with it, before the Verify button.
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 24
    assert abs(error_box["x"] - field_box["x"]) < 2
    button_box = page.get_by_role("button", name="Verify").bounding_box()
    assert button_box is not None
    assert error_box["y"] < button_box["y"]
    screenshots.take(page, "flow-wrong-code")

    code_field.fill(latest_code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(site + POLL_PATH)


def test_resend_works_once_the_cooldown_is_over(page: Page, site: str) -> None:
    log_in(page, site)
    send_code(page)
    first_code = latest_code()
    expect(page.get_by_text("You can ask for a new one in 30 seconds.")).to_be_visible()

    page.get_by_role("button", name="Resend code").click()
    # A refusal is an error notice, announced at once.
    expect(page.get_by_role("alert")).to_contain_text("A code was sent only a moment ago.")
    assert len(outbox) == 1

    # The live server runs in this process, so moving the clock moves the server's clock too.
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=True):
        page.reload()
        expect(page.get_by_text("No code? Ask for a new one, or use another number.")).to_be_visible()
        page.get_by_role("button", name="Resend code").click()
        # Good news is a status, announced politely.
        expect(page.get_by_role("status")).to_contain_text(f"A new code was sent to {MASKED_NUMBER}.")
        expect(page.get_by_role("alert")).to_have_count(0)
        assert len(outbox) == 2
        second_code = latest_code()

        if second_code != first_code:  # one chance in a million that they are the same
            page.get_by_label("Code", exact=True).fill(first_code)
            page.get_by_role("button", name="Verify").click()
            expect(page.get_by_label("Code", exact=True)).to_have_accessible_description(
                re.compile("That code is not right")
            )
        page.get_by_label("Code", exact=True).fill(second_code)
        page.get_by_role("button", name="Verify").click()
        expect(page).to_have_url(site + POLL_PATH)


def test_the_keyboard_alone_completes_the_flow(page: Page, site: str) -> None:
    page.goto(site + POLL_PATH)
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(DEMO_USERNAME)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")

    number_field = page.get_by_label("Mobile phone number")
    expect(number_field).to_be_focused()
    page.keyboard.type(NUMBER)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send code")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(number_field).to_be_focused()
    page.keyboard.press("Enter")

    code_field = page.get_by_label("Code", exact=True)
    expect(code_field).to_be_focused()
    for name in ("Verify", "Resend code", "Use another number", "Cancel"):
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name=name, exact=True)).to_be_focused()
    code_field.focus()
    page.keyboard.type(latest_code())
    page.keyboard.press("Enter")

    expect(page).to_have_url(site + POLL_PATH)
    first_choice = page.get_by_label("A beagle")
    for _step in range(10):  # past the navigation bar to the first choice
        page.keyboard.press("Tab")
        if first_choice.evaluate("element => element === document.activeElement"):
            break
    expect(first_choice).to_be_focused()
    page.keyboard.press("Space")
    expect(first_choice).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Vote")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{site}/polls/1/results/")


def test_a_verified_number_on_file_takes_one_click(page: Page, site: str) -> None:
    log_in(page, site)
    send_code(page)
    page.get_by_label("Code", exact=True).fill(latest_code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(site + POLL_PATH)
    page.get_by_role("button", name="Log out").click()

    log_in(page, site)

    expect(page.get_by_text(f"we will send a code to {MASKED_NUMBER}")).to_be_visible()
    expect(page.get_by_label("Mobile phone number")).to_have_count(0)
    send = page.get_by_role("button", name="Send code")
    expect(send).to_be_focused()
    send.click()
    expect(page).to_have_url(re.compile(r"/verify/confirm/"))
    assert [message.number for message in outbox] == [NUMBER, NUMBER]


def test_a_number_is_changed_after_verifying_the_current_one_again(page: Page, site: str) -> None:
    log_in(page, site)
    send_code(page)
    page.get_by_label("Code", exact=True).fill(latest_code())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(site + POLL_PATH)

    # Too long after that verification to change the number straight away.
    later = timezone.now() + timedelta(seconds=conf.NUMBER_CHANGE_MAX_AGE + 60)
    with time_machine.travel(later, tick=True):
        page.goto(f"{site}/verify/?other=1&next={POLL_PATH}")
        expect(page.get_by_role("heading", name="Change your phone number")).to_be_visible()
        expect(page.get_by_label("Mobile phone number")).to_have_count(0)
        expect(page.get_by_text("Lost this phone? Ask the site's staff to reset your number.")).to_be_visible()
        verify_first = page.get_by_role("button", name="Verify your current number first")
        expect(verify_first).to_be_focused()
        verify_first.click()

        expect(page).to_have_url(re.compile(r"/verify/confirm/\?other=1&next="))
        page.get_by_label("Code", exact=True).fill(latest_code())
        page.get_by_role("button", name="Verify").click()

        expect(page).to_have_url(re.compile(r"/verify/\?other=1&next="))
        expect(page.get_by_role("status").filter(has_text="Now enter your new phone number.")).to_be_visible()
        number_field = page.get_by_label("Mobile phone number")
        expect(number_field).to_be_focused()
        number_field.fill(NEW_NUMBER)
        page.get_by_role("button", name="Send code").click()

        expect(page).to_have_url(re.compile(r"/verify/confirm/"))
        page.get_by_label("Code", exact=True).fill(latest_code(NEW_NUMBER))
        page.get_by_role("button", name="Verify").click()
        expect(page).to_have_url(site + POLL_PATH)

    assert [message.number for message in outbox] == [NUMBER, NUMBER, NEW_NUMBER]
    assert VerifiedNumber.objects.get(user__username=DEMO_USERNAME).number == NEW_NUMBER


def test_every_step_fits_a_phone_screen(browser: Browser, site: str, screenshots: Screenshots) -> None:
    page = new_page(browser, PHONE)
    try:
        log_in(page, site)
        expect(page).to_have_url(re.compile(r"/verify/"))
        assert not has_horizontal_scroll(page)
        page.get_by_label("Mobile phone number").fill(TYPED_NUMBER)
        screenshots.take(page, "flow-phone-width")
        page.get_by_role("button", name="Send code").click()

        expect(page).to_have_url(re.compile(r"/verify/confirm/"))
        type_a_wrong_code_then_the_right_one(page)
        screenshots.take(page, "flow-code-phone-width")
        page.get_by_role("button", name="Verify").click()

        expect(page).to_have_url(site + POLL_PATH)
        assert not has_horizontal_scroll(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("layout", [POLLSTR_LAYOUT, STANDALONE_LAYOUT], ids=["pollstr", "standalone"])
def test_every_page_of_the_flow_passes_axe(
    page: Page, site: str, settings: Any, screenshots: Screenshots, layout: str
) -> None:
    # The live server runs in this process: it renders the flow with this layout.
    settings.VERIFICATION_BASE_TEMPLATE = layout

    def check(step: str, screenshot: str | None = None) -> None:
        assert_accessible(page, f"{step} (layout {layout})")
        if screenshot and layout == STANDALONE_LAYOUT:
            screenshots.take(page, screenshot)

    log_in(page, site)
    expect(page).to_have_url(re.compile(r"/verify/" + NEXT_POLL))
    # The layout asked for is the one served: Pollstr's has its navigation bar, the standalone one its stylesheet.
    expect(page.locator(STANDALONE_STYLESHEET)).to_have_count(1 if layout == STANDALONE_LAYOUT else 0)
    expect(page.get_by_role("navigation")).to_have_count(0 if layout == STANDALONE_LAYOUT else 1)
    number_field = page.get_by_label("Mobile phone number")
    number_field.fill(TYPED_NUMBER)
    check("the phone step", "standalone-1-phone")

    number_field.fill(SHORT_NUMBER)
    page.get_by_role("button", name="Send code").click()
    expect(number_field).to_have_attribute("aria-invalid", "true")
    expect(number_field).to_have_accessible_description(re.compile("This is not a valid phone number"))
    check("the phone step with a field error", "standalone-2-phone-error")

    number_field.fill(TYPED_NUMBER)
    page.get_by_role("button", name="Send code").click()
    expect(page).to_have_url(re.compile(r"/verify/confirm/" + NEXT_POLL))
    code_field = page.get_by_label("Code", exact=True)
    expect(code_field).to_be_focused()
    check("the code step", "standalone-3-code")

    code_field.fill(wrong_code_for(latest_code()))
    page.get_by_role("button", name="Verify").click()
    expect(code_field).to_have_attribute("aria-invalid", "true")
    check("the code step after a wrong code", "standalone-4-wrong-code")

    page.get_by_role("button", name="Resend code").click()
    expect(page.get_by_role("alert")).to_contain_text("A code was sent only a moment ago.")
    check("the code step after an early resend (an error notice)")

    # The rest of the walk stays on the moved clock: back on the real one, the verification would be in the future.
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=True):
        page.get_by_role("button", name="Resend code").click()
        expect(page.get_by_role("status")).to_contain_text(f"A new code was sent to {MASKED_NUMBER}.")
        check("the code step after a resend (a success notice)")

        code_field.fill(latest_code())
        page.get_by_role("button", name="Verify").click()
        expect(page).to_have_url(site + POLL_PATH)
        page.get_by_role("button", name="Log out").click()

        log_in(page, site)
        expect(page.get_by_text(f"we will send a code to {MASKED_NUMBER}")).to_be_visible()
        expect(page.get_by_role("button", name="Send code")).to_be_focused()
        check("the phone step with a number on file", "standalone-5-saved-number")


def test_the_standalone_layout_fits_a_phone_screen(
    browser: Browser, site: str, settings: Any, screenshots: Screenshots
) -> None:
    settings.VERIFICATION_BASE_TEMPLATE = STANDALONE_LAYOUT
    page = new_page(browser, PHONE)
    try:
        log_in(page, site)
        expect(page).to_have_url(re.compile(r"/verify/"))
        expect(page.locator(STANDALONE_STYLESHEET)).to_have_count(1)
        assert not has_horizontal_scroll(page)
        send_code(page)
        type_a_wrong_code_then_the_right_one(page)
        screenshots.take(page, "standalone-code-phone-width")
    finally:
        page.context.close()
