"""Changing the verified number: only a session that verified the number on file recently may use another one.

The attack these tests close: someone with the password alone (not verified in this session) enters
their own number, confirms its code, and so passes the second factor, or even replaces the owner's number.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from verification import flow, signals, state, views
from verification.backends.locmem import LocmemVerifyBackend
from verification.exceptions import NumberChangeNotAllowed
from verification.models import Challenge, VerifiedNumber
from verification.testing import LOCMEM_BACKEND, latest_code, outbox, verify_client
from verification.tests.feedback import feedback as texts

pytestmark = pytest.mark.django_db
#: The owner's phone, on file.
NUMBER = "+447400123456"
#: The owner's new phone.
NEW_NUMBER = "+447911125678"
#: The phone of someone who knows only the password.
ATTACKER = "+447400999888"
PHONE = reverse("verification:phone")
SEND = reverse("verification:send")
CONFIRM = reverse("verification:confirm")
RESEND = reverse("verification:resend")
PROTECTED = "/shop/1/"
MAX_AGE = 600
UNVERIFIED_MESSAGE = "To use another number, first verify your current number."
STALE_MESSAGE = "You verified your current number too long ago to change it now."


@pytest.fixture(autouse=True)
def _max_age(settings):
    settings.VERIFICATION_NUMBER_CHANGE_MAX_AGE = MAX_AGE


@pytest.fixture
def intruder(owner):
    """A session of the owner's account opened with the password only: never verified."""
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def owner_client(owner, frozen):
    """A session of the owner that has just verified NUMBER through the pages (the clock then stands still)."""
    client = Client()
    client.force_login(owner)
    verify(client, NUMBER)
    frozen.shift(timedelta(seconds=30))  # past the resend cooldown
    return client


@pytest.fixture
def changes():
    """Every `number_changed` signal, as its keyword arguments."""
    calls: list[dict] = []

    def receiver(sender, signal=None, **kwargs):
        calls.append({"sender": sender, **kwargs})

    signals.number_changed.connect(receiver, weak=False, dispatch_uid="test-number-changed")
    yield calls
    signals.number_changed.disconnect(dispatch_uid="test-number-changed")


def verify(client: Client, number: str) -> None:
    """Send a code to `number` (the one on file, in one click, when there is one) and confirm it."""
    sent = client.post(SEND, {views.USE_SAVED_FIELD: "1"})
    if sent["Location"] == PHONE:  # no number on file yet
        sent = client.post(SEND, {"number": number})
    assert sent.status_code == 302
    assert outbox()[-1].number == number
    assert client.post(CONFIRM, {"code": latest_code()}).status_code == 302


def on_file(user) -> str:
    return VerifiedNumber.objects.get(user=user).number


def session_state(client: Client) -> state.VerifiedState | None:
    return state.get_state(client.get(PHONE).wsgi_request)


def fresh(user, number: str = NUMBER, age: int = 0) -> state.VerifiedState:
    return state.VerifiedState(str(user.pk), "hash", number, int(time.time()) - age)


def planted_challenge(user, number: str = ATTACKER) -> tuple[Challenge, str]:
    """A live challenge to `number` made behind the pages' back, and its code (the attacker's own phone)."""
    request_id = LocmemVerifyBackend().start(number)
    now = timezone.now()
    challenge = Challenge.objects.create(
        user=user,
        number=number,
        backend=LOCMEM_BACKEND,
        request_id=request_id,
        status=Challenge.Status.PENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=300),
    )
    return challenge, latest_code(number)


# --- the attack, through the pages ----------------------------------------------------------------------


def test_the_number_form_is_not_shown_to_a_session_that_has_not_verified(intruder):
    page = intruder.get(PHONE, {"other": "1", "next": PROTECTED})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="number"' not in html
    assert ">Use another number</button>" not in html
    assert "Change your phone number" in html
    # The one way forward: prove the phone on file first, then come back here.
    assert ">Verify your current number first</button>" in html
    assert f'name="{views.USE_SAVED_FIELD}"' in html
    assert 'name="other" value="1"' in html
    assert "+44 •••• ••3456" in html
    assert "Lost this phone? Ask the site's staff to reset your number." in html
    assert not outbox()


def test_sending_to_another_number_is_refused_and_nothing_is_sent(intruder, owner):
    response = intruder.post(SEND, {"number": ATTACKER, "next": PROTECTED})

    assert response.status_code == 403
    html = response.content.decode()
    assert UNVERIFIED_MESSAGE in html
    assert 'name="number"' not in html
    assert ">Verify your current number first</button>" in html
    assert 'value="/shop/1/"' in html
    assert not outbox()
    assert not Challenge.objects.exists()
    assert on_file(owner) == NUMBER


@pytest.mark.parametrize("number", ["", "not a number", "+448001234567", "07400 999888"])
def test_any_other_input_is_refused_the_same_way(intruder, owner, number):
    response = intruder.post(SEND, {"number": number})

    assert response.status_code == 403
    assert UNVERIFIED_MESSAGE in response.content.decode()
    assert not outbox()


def test_confirming_a_code_sent_to_another_number_is_refused(intruder, owner, mocker):
    challenge, code = planted_challenge(owner)
    check = mocker.spy(LocmemVerifyBackend, "check")
    cancel = mocker.spy(LocmemVerifyBackend, "cancel")

    response = intruder.post(CONFIRM, {"code": code, "next": PROTECTED})

    assert response.status_code == 302
    assert response["Location"] == f"{PHONE}?other=1&next=/shop/1/"
    assert UNVERIFIED_MESSAGE in texts(response)[0]
    assert on_file(owner) == NUMBER
    assert session_state(intruder) is None
    assert intruder.get(PROTECTED).status_code == 302
    # Refused before the backend is asked: no attempt used; the challenge is over, at the backend too.
    check.assert_not_called()
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.CANCELLED
    assert challenge.attempts == 0
    cancel.assert_called_once_with(mocker.ANY, challenge.request_id)
    assert len(outbox()) == 1


def test_the_code_page_for_another_number_leads_back_and_changes_nothing(intruder, owner):
    challenge, _code = planted_challenge(owner)

    response = intruder.get(CONFIRM, {"next": PROTECTED})

    assert response["Location"] == f"{PHONE}?other=1&next=/shop/1/"
    assert UNVERIFIED_MESSAGE in texts(response)[0]
    challenge.refresh_from_db()
    assert challenge.status == Challenge.Status.PENDING
    # The phone page does not point at a code this session cannot confirm.
    assert "Enter the code" not in intruder.get(PHONE).content.decode()


def test_resending_to_another_number_is_refused(intruder, owner, frozen):
    planted_challenge(owner)
    frozen.shift(timedelta(seconds=60))

    response = intruder.post(RESEND, {"next": PROTECTED})

    assert response["Location"] == f"{PHONE}?other=1&next=/shop/1/"
    assert UNVERIFIED_MESSAGE in texts(response)[0]
    assert len(outbox()) == 1
    assert Challenge.objects.count() == 1


def test_the_number_on_file_is_still_offered_in_one_click(intruder, owner):
    html = intruder.get(PHONE, {"next": PROTECTED}).content.decode()
    assert ">Send code</button>" in html
    assert ">Use another number</button>" not in html
    assert ">Verify your current number first</button>" not in html

    sent = intruder.post(SEND, {views.USE_SAVED_FIELD: "1", "next": PROTECTED})

    assert sent["Location"] == f"{CONFIRM}?next=/shop/1/"
    assert [message.number for message in outbox()] == [NUMBER]
    page = intruder.get(sent["Location"]).content.decode()
    assert ">Use another number</button>" not in page
    assert "or use another number" not in page


# --- the owner changes the number -----------------------------------------------------------------------


def test_a_fresh_verification_allows_the_change_end_to_end(owner_client, owner, changes, caplog):
    caplog.set_level(logging.INFO, logger="verification")
    page = owner_client.get(PHONE, {"next": PROTECTED})
    assert ">Use another number</button>" in page.content.decode()
    assert "Lost this phone?" not in page.content.decode()
    assert 'name="number"' in owner_client.get(PHONE, {"other": "1", "next": PROTECTED}).content.decode()

    sent = owner_client.post(SEND, {"number": NEW_NUMBER, "next": PROTECTED})
    assert sent["Location"] == f"{CONFIRM}?next=/shop/1/"
    assert outbox()[-1].number == NEW_NUMBER
    assert on_file(owner) == NUMBER
    assert ">Use another number</button>" in owner_client.get(CONFIRM).content.decode()

    done = owner_client.post(CONFIRM, {"code": latest_code(), "next": PROTECTED})

    assert done["Location"] == PROTECTED
    assert on_file(owner) == NEW_NUMBER
    assert VerifiedNumber.objects.count() == 1
    assert session_state(owner_client).number == NEW_NUMBER
    assert changes == [
        {
            "sender": Challenge,
            "user": owner,
            "challenge": Challenge.objects.get(number=NEW_NUMBER),
            "old_number": NUMBER,
            "new_number": NEW_NUMBER,
        }
    ]
    assert f"Number changed: user={owner.pk} old=+44 •••• ••3456 new=+44 •••• ••5678" in caplog.text
    assert NUMBER not in caplog.text
    assert NEW_NUMBER not in caplog.text


def test_a_stale_verification_refuses_the_change_and_offers_to_verify_again(owner_client, owner, frozen):
    frozen.shift(timedelta(seconds=MAX_AGE + 1))

    page = owner_client.get(PHONE, {"next": PROTECTED}).content.decode()
    assert ">Use another number</button>" not in page
    assert ">Send code</button>" in page
    assert ">Verify your current number first</button>" in page
    assert "Lost this phone?" in page
    assert 'name="number"' not in owner_client.get(PHONE, {"other": "1"}).content.decode()

    response = owner_client.post(SEND, {"number": NEW_NUMBER, "next": PROTECTED})

    assert response.status_code == 403
    assert STALE_MESSAGE in response.content.decode()
    assert [message.number for message in outbox()] == [NUMBER]
    assert on_file(owner) == NUMBER


def test_the_change_is_allowed_up_to_the_max_age_and_not_a_second_later(owner, frozen):
    frozen.shift(timedelta(seconds=-(MAX_AGE + 1)))
    client = Client()
    client.force_login(owner)
    verify(client, NUMBER)

    frozen.shift(timedelta(seconds=MAX_AGE))
    assert client.post(SEND, {"number": NEW_NUMBER}).status_code == 302

    frozen.shift(timedelta(seconds=1))
    refused = client.post(SEND, {"number": "+447400123457"})
    assert refused.status_code == 403
    assert STALE_MESSAGE in refused.content.decode()


def test_a_session_gone_stale_between_send_and_confirm_cannot_confirm(owner_client, owner, frozen, settings):
    settings.VERIFICATION_NUMBER_CHANGE_MAX_AGE = 120
    owner_client.post(SEND, {"number": NEW_NUMBER})
    frozen.shift(timedelta(seconds=100))  # the session verified 130 seconds ago; the code still lives

    response = owner_client.post(CONFIRM, {"code": latest_code(), "next": PROTECTED})

    assert response["Location"] == f"{PHONE}?other=1&next=/shop/1/"
    assert STALE_MESSAGE in texts(response)[-1]
    assert on_file(owner) == NUMBER
    assert Challenge.objects.get(number=NEW_NUMBER).status == Challenge.Status.CANCELLED


def test_verify_the_current_number_first_then_change_it(owner_client, owner, frozen, changes):
    frozen.shift(timedelta(seconds=MAX_AGE + 1))

    sent = owner_client.post(SEND, {views.USE_SAVED_FIELD: "1", "other": "1", "next": PROTECTED})
    assert sent["Location"] == f"{CONFIRM}?other=1&next=/shop/1/"
    assert outbox()[-1].number == NUMBER
    assert 'name="other" value="1"' in owner_client.get(sent["Location"]).content.decode()

    verified = owner_client.post(CONFIRM, {"code": latest_code(), "other": "1", "next": PROTECTED})
    assert verified["Location"] == f"{PHONE}?other=1&next=/shop/1/"
    assert "Now enter your new phone number." in texts(verified)

    assert 'name="number"' in owner_client.get(verified["Location"]).content.decode()
    owner_client.post(SEND, {"number": NEW_NUMBER, "next": PROTECTED})
    done = owner_client.post(CONFIRM, {"code": latest_code(), "next": PROTECTED})
    assert done["Location"] == PROTECTED
    assert on_file(owner) == NEW_NUMBER
    assert len(changes) == 1


def test_a_session_that_verified_the_old_number_cannot_change_the_new_one(owner, owner_client, frozen):
    other_tab = Client()
    other_tab.force_login(owner)
    verify(other_tab, NUMBER)
    frozen.shift(timedelta(seconds=30))
    owner_client.post(SEND, {"number": NEW_NUMBER})
    owner_client.post(CONFIRM, {"code": latest_code()})
    assert on_file(owner) == NEW_NUMBER
    frozen.shift(timedelta(seconds=30))

    # The other session verified NUMBER, which is no longer on file: the change ended it.
    response = other_tab.post(SEND, {"number": ATTACKER})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert on_file(owner) == NEW_NUMBER


@pytest.mark.parametrize("outcome", ["wrong code", "locked", "backend down"])
def test_the_old_number_stays_until_the_new_one_is_confirmed(owner_client, owner, settings, mocker, outcome):
    settings.VERIFICATION_MAX_ATTEMPTS = 1
    owner_client.post(SEND, {"number": NEW_NUMBER})
    code = latest_code()
    if outcome == "backend down":
        mocker.patch.object(LocmemVerifyBackend, "check", side_effect=RuntimeError("down"))
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    owner_client.post(CONFIRM, {"code": wrong if outcome != "backend down" else code})
    if outcome == "locked":
        owner_client.post(CONFIRM, {"code": code})

    assert on_file(owner) == NUMBER
    assert session_state(owner_client).number == NUMBER


# --- first enrolment and the number on file: unaffected ---------------------------------------------------


def test_a_first_enrolment_may_use_any_number(client, changes):
    user = get_user_model().objects.create_user("bob")
    client.force_login(user)
    assert 'name="number"' in client.get(PHONE, {"other": "1"}).content.decode()
    assert 'name="number"' in client.get(PHONE).content.decode()

    client.post(SEND, {"number": NUMBER, "next": PROTECTED})
    done = client.post(CONFIRM, {"code": latest_code(), "next": PROTECTED})

    assert done["Location"] == PROTECTED
    assert on_file(user) == NUMBER
    assert changes == []


def test_after_a_staff_reset_the_user_enrols_a_new_number(intruder, owner, admin_client, admin_user, changes, frozen):
    verify_client(admin_client, "+447400555666")
    reset = admin_client.post(
        reverse("admin:verification_verifiednumber_changelist"),
        {"action": "reset_numbers", "_selected_action": [VerifiedNumber.objects.get(user=owner).pk]},
    )
    assert reset.status_code == 302
    assert not VerifiedNumber.objects.filter(user=owner).exists()
    frozen.shift(timedelta(seconds=1))

    # A session from before the reset may not enrol (test_reset.py); one logged in after it may.
    assert 'name="number"' not in intruder.get(PHONE).content.decode()
    after_reset = Client()
    after_reset.force_login(owner)
    assert 'name="number"' in after_reset.get(PHONE).content.decode()
    after_reset.post(SEND, {"number": NEW_NUMBER})
    after_reset.post(CONFIRM, {"code": latest_code()})

    assert on_file(owner) == NEW_NUMBER
    assert changes == []


def test_verifying_the_same_number_again_is_no_change(owner_client, owner, changes):
    verify(owner_client, NUMBER)

    assert on_file(owner) == NUMBER
    assert changes == []


# --- the rule in the use cases -----------------------------------------------------------------------


def test_without_the_sessions_verification_the_flow_refuses_another_number(owner, mocker):
    start = mocker.spy(LocmemVerifyBackend, "start")

    with pytest.raises(NumberChangeNotAllowed) as caught:
        flow.start_verification(owner, NEW_NUMBER)

    assert caught.value.reason == NumberChangeNotAllowed.UNVERIFIED
    start.assert_not_called()
    assert flow.start_verification(owner, NUMBER).number == NUMBER


@pytest.mark.parametrize(
    ("verification", "reason"),
    [
        (None, NumberChangeNotAllowed.UNVERIFIED),
        ("other number", NumberChangeNotAllowed.UNVERIFIED),
        ("stale", NumberChangeNotAllowed.STALE),
        ("fresh", None),
        ("at the limit", None),
    ],
)
def test_the_refusal_says_why(owner, frozen, verification, reason):
    current = VerifiedNumber.objects.get(user=owner)
    held = {
        None: None,
        "other number": fresh(owner, ATTACKER),
        "stale": fresh(owner, age=MAX_AGE + 1),
        "fresh": fresh(owner),
        "at the limit": fresh(owner, age=MAX_AGE),
    }[verification]

    refusal = flow.number_refusal(current, NEW_NUMBER, held)

    assert (refusal.reason if refusal else None) == reason
    assert flow.number_refusal(current, NUMBER, held) is None
    assert flow.number_refusal(None, NEW_NUMBER, held) is None


def test_the_rule_is_decided_again_when_the_new_number_is_saved(owner, mocker):
    flow.start_verification(owner, NEW_NUMBER, verification=fresh(owner))
    original = LocmemVerifyBackend.check

    def check_while_the_number_on_file_changes(self, request_id, code):
        # Another session of the user replaces the number while this code is being checked.
        VerifiedNumber.objects.filter(user=owner).update(number=ATTACKER)
        return original(self, request_id, code)

    mocker.patch.object(LocmemVerifyBackend, "check", check_while_the_number_on_file_changes)

    with pytest.raises(NumberChangeNotAllowed):
        flow.check_code(owner, latest_code(), verification=fresh(owner))

    assert on_file(owner) == ATTACKER
    assert Challenge.objects.get(number=NEW_NUMBER).status == Challenge.Status.CANCELLED


def test_the_signal_fires_once_after_verified(owner, changes, mocker):
    order: list[str] = []
    signals.verified.connect(lambda sender, **kwargs: order.append("verified"), weak=False, dispatch_uid="order-v")
    signals.number_changed.connect(lambda sender, **kwargs: order.append("changed"), weak=False, dispatch_uid="order-c")
    try:
        flow.start_verification(owner, NEW_NUMBER, verification=fresh(owner))
        challenge = flow.check_code(owner, latest_code(), verification=fresh(owner))
    finally:
        signals.verified.disconnect(dispatch_uid="order-v")
        signals.number_changed.disconnect(dispatch_uid="order-c")

    assert order == ["verified", "changed"]
    assert changes == [
        {"sender": Challenge, "user": owner, "challenge": challenge, "old_number": NUMBER, "new_number": NEW_NUMBER}
    ]


def test_refusals_are_logged_masked(intruder, owner, caplog):
    caplog.set_level(logging.INFO, logger="verification")

    intruder.post(SEND, {"number": ATTACKER})

    assert (
        f"Number change refused at send: user={owner.pk} on_file=+44 •••• ••3456 requested=+44 •••• ••9888 "
        "reason=unverified"
    ) in caplog.text
    assert NUMBER not in caplog.text
    assert ATTACKER not in caplog.text
