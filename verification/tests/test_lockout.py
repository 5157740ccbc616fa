"""The long-term ceiling: VERIFICATION_FAILED_CHALLENGE_LIMIT failed challenges in a day stop the account's codes.

Without it, a challenge locked after VERIFICATION_MAX_ATTEMPTS wrong codes was simply replaced by a new
one after the resend cooldown, with fresh attempts, for ever: a guesser had all day at one account.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from verification import errors, flow, signals, views
from verification.exceptions import AccountLocked, InvalidCode, TooManyAttempts, WrongCode
from verification.models import Challenge, VerifiedNumber
from verification.testing import TEST_NUMBER, latest_code, outbox, verify_client
from verification.tests.receiving import receiving

DAY = 86400
LIMIT = 3
LOCKED_MESSAGE = "Too many wrong codes were entered for this account, so codes are stopped for"
SEND = reverse("verification:send")
CONFIRM = reverse("verification:confirm")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


@pytest.fixture
def lockout(settings: Any, owner: Any, frozen: Any) -> Any:
    """A ceiling of 3 failed challenges; no cooldown and no send budget in the way."""
    settings.VERIFICATION_FAILED_CHALLENGE_LIMIT = LIMIT
    settings.VERIFICATION_RESEND_COOLDOWN = 0
    settings.VERIFICATION_SEND_LIMIT = 1000
    settings.VERIFICATION_IP_SEND_LIMIT = 1000
    settings.VERIFICATION_FOREIGN_SEND_LIMIT = 1000
    return settings


@pytest.fixture
def locked_events() -> Any:
    with receiving(signals.account_locked) as received:
        yield received


def send(user: Any) -> Challenge:
    return flow.start_verification(user, TEST_NUMBER, ip="203.0.113.7")


def fail_challenge(user: Any, frozen: Any) -> None:
    """A code sent, then one wrong code for it (a failed challenge), then a minute passes."""
    send(user)
    with pytest.raises(WrongCode):
        flow.check_code(user, wrong(latest_code()))
    frozen.shift(timedelta(seconds=60))


def lock_out(user: Any, frozen: Any) -> AccountLocked:
    """Fail LIMIT challenges through the flow; return the AccountLocked the last wrong code raises."""
    for _ in range(LIMIT - 1):
        fail_challenge(user, frozen)
    flow.resend_code(user, ip="203.0.113.7")
    with pytest.raises(AccountLocked) as caught:
        flow.check_code(user, wrong(latest_code()))
    return caught.value


def locked_warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_wrong_code_that_fails_the_limit_th_challenge_locks_the_account(
    owner, lockout, frozen, locked_events, caplog
):
    caplog.set_level(logging.INFO, logger="verification")

    locked = lock_out(owner, frozen)

    # Until the first failed challenge, two minutes old, leaves the day's window.
    assert locked.retry_after == DAY - 120
    assert locked_warnings(caplog) == [
        f"Account's codes locked, too many failed challenges: user={owner.pk} limit=3 window=86400s "
        f"retry_after={DAY - 120}s"
    ]
    last = Challenge.objects.order_by("-created_at").first()
    assert last.status == Challenge.Status.LOCKED
    assert locked_events == [
        {"user": owner, "challenge": last, "retry_after": DAY - 120, "limit": LIMIT, "window": DAY}
    ]
    # No code is sent any more, in any way; nothing is recorded, nothing is reported again.
    for attempt in (lambda: send(owner), lambda: flow.resend_code(owner, ip="203.0.113.7")):
        with pytest.raises(AccountLocked) as caught:
            attempt()
        assert caught.value.retry_after == DAY - 120
    assert Challenge.objects.count() == LIMIT
    assert len(outbox()) == LIMIT
    assert len(locked_events) == 1
    assert len(locked_warnings(caplog)) == 1


def test_the_wrong_code_that_locks_the_account_says_so_on_the_phone_page(owner, lockout, frozen):
    for _ in range(LIMIT - 1):
        fail_challenge(owner, frozen)
    send(owner)
    client = Client()
    client.force_login(owner)

    response = client.post(CONFIRM, {"code": wrong(latest_code())}, follow=True)

    assert response.redirect_chain == [(reverse("verification:phone"), 302)]
    assert f"{LOCKED_MESSAGE} 24 hours." in response.content.decode()


@pytest.fixture
def locked_with_a_code_waiting(owner, lockout, frozen):
    """Three failed challenges, then a fresh code, sent while the ceiling was off; then it is turned on."""
    lockout.VERIFICATION_FAILED_CHALLENGE_LIMIT = None
    for _ in range(LIMIT):
        fail_challenge(owner, frozen)
    waiting = send(owner)
    lockout.VERIFICATION_FAILED_CHALLENGE_LIMIT = LIMIT
    return waiting


def test_not_even_the_right_code_is_checked_while_the_account_is_locked(owner, locked_with_a_code_waiting):
    with pytest.raises(AccountLocked) as caught:
        flow.check_code(owner, latest_code())

    # The first failed challenge is three minutes old.
    assert caught.value.retry_after == DAY - 180
    waiting = Challenge.objects.get(pk=locked_with_a_code_waiting.pk)
    assert (waiting.status, waiting.attempts) == (Challenge.Status.PENDING, 0)
    assert not Challenge.objects.filter(status=Challenge.Status.VERIFIED).exists()


def test_the_pages_answer_429_and_say_how_many_hours(owner, locked_with_a_code_waiting):
    client = Client()
    client.force_login(owner)
    said = f"{LOCKED_MESSAGE} 24 hours."

    for code in (latest_code(), wrong(latest_code())):
        confirmed = client.post(CONFIRM, {"code": code})
        assert (confirmed.status_code, said in confirmed.content.decode()) == (429, True)
    # The one-click send to the number on file says it on the phone page.
    one_click = client.post(SEND, {views.USE_SAVED_FIELD: "1"}, follow=True)
    assert one_click.redirect_chain == [(reverse("verification:phone"), 302)]
    assert said in one_click.content.decode()
    # The number form, in a session that may use it.
    verify_client(client, TEST_NUMBER)
    sent = client.post(SEND, {"number": TEST_NUMBER})
    assert (sent.status_code, said in sent.content.decode()) == (429, True)

    assert Challenge.objects.get(pk=locked_with_a_code_waiting.pk).attempts == 0
    assert Challenge.objects.count() == LIMIT + 1


def test_the_lock_lifts_when_the_oldest_failure_leaves_the_window(owner, lockout, frozen):
    locked = lock_out(owner, frozen)
    frozen.shift(timedelta(seconds=locked.retry_after - 1))
    with pytest.raises(AccountLocked) as caught:
        send(owner)
    assert caught.value.retry_after == 1

    frozen.shift(timedelta(seconds=1))
    send(owner)
    verified = flow.check_code(owner, latest_code())

    assert verified.status == Challenge.Status.VERIFIED


def test_a_staff_reset_lifts_the_lock_at_once(owner, lockout, frozen):
    lock_out(owner, frozen)
    frozen.shift(timedelta(seconds=60))

    reset = flow.reset_number(owner, actor_label="test")

    # Enrolling again takes a login after the reset (`enrolment_refusal`), not a day's wait.
    session = {"logged_in_at": int(reset.at.timestamp()) + 1, "registered": True}
    flow.start_verification(owner, TEST_NUMBER, ip="203.0.113.7", **session)
    flow.check_code(owner, latest_code(), **session)
    assert VerifiedNumber.objects.get(user=owner).number == TEST_NUMBER


def test_only_challenges_with_a_wrong_code_and_never_confirmed_count(owner, lockout, frozen):
    for _ in range(LIMIT + 1):
        # A wrong code, then the right one: confirmed, it is no failure.
        send(owner)
        with pytest.raises(WrongCode):
            flow.check_code(owner, wrong(latest_code()))
        flow.check_code(owner, latest_code())
    for _ in range(LIMIT + 1):
        # Codes asked for and never entered, or entered malformed (no attempt used).
        send(owner)
        with pytest.raises(InvalidCode):
            flow.check_code(owner, "12")
    for _ in range(LIMIT - 1):
        fail_challenge(owner, frozen)

    send(owner)
    with pytest.raises(AccountLocked):
        flow.check_code(owner, wrong(latest_code()))


def test_a_limit_of_none_turns_the_ceiling_off(owner, lockout, frozen):
    lock_out(owner, frozen)

    lockout.VERIFICATION_FAILED_CHALLENGE_LIMIT = None
    for _ in range(2 * LIMIT):
        fail_challenge(owner, frozen)
    send(owner)
    assert flow.check_code(owner, latest_code()).status == Challenge.Status.VERIFIED

    lockout.VERIFICATION_FAILED_CHALLENGE_LIMIT = LIMIT
    with pytest.raises(AccountLocked):
        send(owner)


def test_wrong_codes_per_window_are_bounded_by_the_ceiling(owner, lockout, frozen):
    lockout.VERIFICATION_RESEND_COOLDOWN = 30
    max_attempts = 5
    lockout.VERIFICATION_MAX_ATTEMPTS = max_attempts
    wrong_codes = 0
    # A guesser who, each time a challenge dies, waits out the cooldown and asks for a new one.
    for _ in range(50):
        try:
            send(owner)
        except AccountLocked:
            break
        code = wrong(latest_code())
        while True:
            wrong_codes += 1
            try:
                flow.check_code(owner, code)
            except WrongCode:
                continue
            except (TooManyAttempts, AccountLocked):
                break
        frozen.shift(timedelta(seconds=30))
    else:
        pytest.fail("codes were still sent after 50 dead challenges")

    assert wrong_codes <= LIMIT * max_attempts
    # Two challenges used up, then the first wrong code of the third one locked the account.
    assert wrong_codes == (LIMIT - 1) * max_attempts + 1
    assert sum(Challenge.objects.values_list("attempts", flat=True)) == wrong_codes


def test_wait_text_says_hours_from_two_hours():
    assert errors.wait_text(59) == "59 seconds"
    assert errors.wait_text(3600) == "60 minutes"
    assert errors.wait_text(7199) == "120 minutes"
    assert errors.wait_text(7200) == "2 hours"
    assert errors.wait_text(7201) == "3 hours"
    assert errors.wait_text(DAY - 120) == "24 hours"
