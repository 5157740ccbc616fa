"""Numbers belong to their verified owner: budgets others cannot spend, withheld codes, the owner's send first."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from verification import flow
from verification.errors import describe
from verification.exceptions import InvalidNumber, NoPendingVerification, SendLimitExceeded, WrongCode
from verification.models import Challenge, VerifiedNumber
from verification.testing import TEST_NUMBER, latest_code, outbox, verify_client
from verification.tests.fake_vonage import LEGACY_BACKEND, V2_BACKEND, V2_URL, FakeVonage, use_key_pair

NUMBER = TEST_NUMBER
DIGITS = NUMBER.lstrip("+")
#: Nobody's number; masked like NUMBER ("+44 •••• ••3456"), so the pages of both read the same.
UNOWNED = "+447400993456"
OWNER_IP = "192.0.2.1"
SEND = reverse("verification:send")
CONFIRM = reverse("verification:confirm")
PROTECTED = reverse("shop:detail", args=[1])
Status = Challenge.Status

_usernames = (f"other{i}" for i in itertools.count())
_addresses = (f"198.51.100.{i}" for i in itertools.count(1))


def other_account() -> Any:
    """A new account that has not verified NUMBER: a sign-up, or someone typing another's number."""
    return get_user_model().objects.create_user(next(_usernames))


def send_from_another_account(number: str = NUMBER) -> Challenge:
    return flow.start_verification(other_account(), number, ip=next(_addresses))


def delivered_to(number: str) -> list[str]:
    return [message.request_id for message in outbox() if message.number == number]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


#: What differs between any two sessions' pages: csrf tokens, masked numbers, the code typed (echoed in its field).
_SESSION_SPECIFIC = [
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'), "csrf"),
    (re.compile(r"\+\d+ •+ •+\d+"), "+•"),
    (re.compile(r'name="code" value="\d*"'), "code"),
]


def answer(response: Any) -> tuple[int, str | None, str]:
    """What a response tells its reader: status, redirect target and page, with what is session-specific blanked."""
    page = response.content.decode()
    for pattern, blank in _SESSION_SPECIFIC:
        page = pattern.sub(blank, page)
    return response.status_code, response.get("Location"), page


# --- budgets: others cannot spend the owner's ------------------------------------------------------------


@pytest.mark.parametrize("sharing", [False, True])
def test_other_accounts_spending_the_number_budget_do_not_lock_its_owner_out(owner, settings, frozen, sharing):
    settings.VERIFICATION_NUMBER_SHARING = sharing
    refused = []
    for _ in range(5):
        try:
            send_from_another_account()
        except SendLimitExceeded as exc:
            refused.append(exc.scope)
    assert refused == ["number", "number"]  # VERIFICATION_SEND_LIMIT (3) per number, for other accounts
    others_codes = len(delivered_to(NUMBER))
    assert others_codes == (3 if sharing else 0)

    mine = flow.start_verification(owner, NUMBER, ip=OWNER_IP)

    assert mine.known_number
    assert delivered_to(NUMBER)[others_codes:] == [mine.request_id]
    assert flow.check_code(owner, latest_code(NUMBER)).status == Status.VERIFIED


def test_the_foreign_budget_bounds_other_accounts_and_never_counts_or_stops_the_owner(owner, settings, frozen):
    settings.VERIFICATION_NUMBER_SHARING = True
    settings.VERIFICATION_SEND_LIMIT = 1000
    settings.VERIFICATION_IP_SEND_LIMIT = 1000
    settings.VERIFICATION_FOREIGN_SEND_LIMIT = 3
    window = settings.VERIFICATION_FOREIGN_SEND_WINDOW = 86400
    for _ in range(3):  # the owner's own codes first: none of them counts
        flow.start_verification(owner, NUMBER, ip=OWNER_IP)
        frozen.shift(timedelta(seconds=31))
    first = send_from_another_account()
    frozen.shift(timedelta(seconds=100))
    send_from_another_account()
    send_from_another_account()

    with pytest.raises(SendLimitExceeded) as caught:
        send_from_another_account()

    assert (caught.value.scope, caught.value.retry_after) == ("foreign", window - 100)
    others = Challenge.objects.exclude(user=owner).order_by("created_at", "pk")
    assert delivered_to(NUMBER)[3:] == list(others.values_list("request_id", flat=True))
    assert len(delivered_to(NUMBER)) == 6
    # Spent for everyone else, not for the owner.
    frozen.shift(timedelta(seconds=31))
    assert flow.start_verification(owner, NUMBER, ip=OWNER_IP).request_id == delivered_to(NUMBER)[-1]
    frozen.move_to(first.created_at + timedelta(seconds=window - 1))
    with pytest.raises(SendLimitExceeded) as caught:
        send_from_another_account()
    assert (caught.value.scope, caught.value.retry_after) == ("foreign", 1)
    frozen.shift(timedelta(seconds=1))  # the first other account's send leaves the window

    assert send_from_another_account().request_id == delivered_to(NUMBER)[-1]


# --- sharing off: another account's send to the number is withheld, and looks sent ------------------------


def test_a_withheld_send_delivers_nothing_and_every_page_reads_as_for_a_real_one(owner, frozen, settings):
    max_attempts = settings.VERIFICATION_MAX_ATTEMPTS = 3
    flow.start_verification(owner, NUMBER, ip=OWNER_IP)
    owners_code = latest_code(NUMBER)
    before = delivered_to(NUMBER)
    intruder, stranger = logged_in(other_account()), logged_in(other_account())

    to_owned = intruder.post(SEND, {"number": NUMBER, "next": PROTECTED}, REMOTE_ADDR="198.51.100.201")
    to_unowned = stranger.post(SEND, {"number": UNOWNED, "next": PROTECTED}, REMOTE_ADDR="198.51.100.202")

    assert delivered_to(NUMBER) == before
    assert len(delivered_to(UNOWNED)) == 1
    withheld = Challenge.objects.get(number=NUMBER, known_number=False)
    assert (withheld.withheld, withheld.request_id, withheld.status) == (True, "", Status.PENDING)
    assert answer(to_owned) == answer(to_unowned)
    assert to_owned["Location"].startswith(CONFIRM)
    assert answer(intruder.get(to_owned["Location"])) == answer(stranger.get(to_unowned["Location"]))
    strangers_wrong_code = wrong(latest_code(UNOWNED))
    for attempts_left in range(max_attempts - 1, 0, -1):
        # Even the owner's real, live code: no code is right for a withheld challenge.
        guessed = intruder.post(CONFIRM, {"code": owners_code, "next": PROTECTED})
        assert answer(guessed) == answer(stranger.post(CONFIRM, {"code": strangers_wrong_code, "next": PROTECTED}))
        assert guessed.status_code == 400
        assert escape(str(describe(WrongCode(attempts_left=attempts_left)))) in guessed.content.decode()

    last = intruder.post(CONFIRM, {"code": owners_code, "next": PROTECTED})

    assert answer(last) == answer(stranger.post(CONFIRM, {"code": strangers_wrong_code, "next": PROTECTED}))
    locked_page = answer(intruder.get(last["Location"]))
    assert locked_page == answer(stranger.get(last["Location"]))
    assert "Too many wrong codes" in locked_page[2]
    withheld.refresh_from_db()
    assert (withheld.status, withheld.attempts) == (Status.LOCKED, max_attempts)
    assert delivered_to(NUMBER) == before
    assert flow.check_code(owner, owners_code).status == Status.VERIFIED
    assert VerifiedNumber.objects.filter(number=NUMBER).count() == 1


def test_numbers_shared_before_keep_working_for_each_co_owner(owner, frozen):
    co_owner = get_user_model().objects.create_user("bob")
    VerifiedNumber.objects.create(user=co_owner, number=NUMBER)
    codes = {}
    for user in (owner, co_owner, owner, co_owner):  # 4 codes to the number in its window: none counts
        challenge = flow.start_verification(user, NUMBER, ip=OWNER_IP)
        assert (challenge.known_number, challenge.withheld) == (True, False)
        codes[user.pk] = latest_code(NUMBER)
        frozen.shift(timedelta(seconds=16))

    assert len(delivered_to(NUMBER)) == 4
    for user in (owner, co_owner):
        assert flow.check_code(user, codes[user.pk]).status == Status.VERIFIED


def test_a_number_verified_by_another_account_between_send_and_confirm_is_refused(db, frozen):
    latecomer = other_account()
    flow.start_verification(latecomer, UNOWNED, ip=next(_addresses))
    code = latest_code(UNOWNED)
    VerifiedNumber.objects.create(user=other_account(), number=UNOWNED)

    with pytest.raises(InvalidNumber):
        flow.check_code(latecomer, code)

    assert not VerifiedNumber.objects.filter(user=latecomer).exists()
    assert Challenge.objects.get(user=latecomer).status == Status.CANCELLED


# --- the owner's send clears other accounts' codes off the number ------------------------------------------


def test_the_owners_send_cancels_other_accounts_codes_but_not_co_owners(owner, settings, frozen):
    settings.VERIFICATION_NUMBER_SHARING = True
    co_owner = get_user_model().objects.create_user("bob")
    VerifiedNumber.objects.create(user=co_owner, number=NUMBER)
    co_owners = flow.start_verification(co_owner, NUMBER, ip=OWNER_IP)
    co_owners_code = latest_code(NUMBER)
    others = send_from_another_account()
    others_code = latest_code(NUMBER)

    flow.start_verification(owner, NUMBER, ip=OWNER_IP)

    others.refresh_from_db()
    co_owners.refresh_from_db()
    assert (others.status, co_owners.status) == (Status.CANCELLED, Status.PENDING)
    with pytest.raises(NoPendingVerification):
        flow.check_code(others.user, others_code)
    assert flow.check_code(co_owner, co_owners_code).status == Status.VERIFIED
    assert flow.check_code(owner, latest_code(NUMBER)).status == Status.VERIFIED


_V2_REQUEST = re.compile(rf"{re.escape(V2_URL)}/[^/]+$")


def _v2_cancel(fake: FakeVonage, request: Any) -> tuple[int, dict[str, str], str]:
    # As Vonage documents for both APIs (the fake models it for legacy only): no cancel within 30 s of the start.
    request_id = request.url.rsplit("/", 1)[1]
    fake.cancels.append(request_id)
    known = fake.requests.get(request_id)
    if known is None or known["state"] != "pending":
        return 404, {}, ""
    if time.time() - known["at"] < 30:
        body = {"title": "Conflict", "detail": "Verification cannot be cancelled yet.", "type": "x", "instance": "x"}
        return 409, {"Content-Type": "application/problem+json"}, json.dumps(body)
    known["state"] = "cancelled"
    return 204, {}, ""


@pytest.fixture(params=["v2", "legacy"])
def vonage(request: pytest.FixtureRequest, settings: Any, frozen: Any) -> Iterator[FakeVonage]:
    """Vonage (one API or the other) faked at the transport, numbers shared: other accounts' codes are real."""
    use_key_pair(settings, V2_BACKEND if request.param == "v2" else LEGACY_BACKEND)
    settings.VERIFICATION_CODE_LENGTH = 6
    settings.VERIFICATION_BRAND = "Example Shop"
    settings.VERIFICATION_CHANNELS = ["sms"]
    settings.VERIFICATION_NUMBER_SHARING = True
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        fake = FakeVonage(http)
        http.replace(responses.CallbackResponse(responses.DELETE, _V2_REQUEST, callback=partial(_v2_cancel, fake)))
        yield fake


def test_the_owners_send_cancels_another_accounts_code_at_vonage_after_30_s(vonage, owner, frozen):
    others = send_from_another_account()
    frozen.shift(timedelta(seconds=31))

    mine = flow.start_verification(owner, NUMBER, ip=OWNER_IP)

    others.refresh_from_db()
    assert others.status == Status.CANCELLED
    assert others.request_id in vonage.cancels
    assert vonage.numbers() == [DIGITS, DIGITS]
    assert (mine.status, mine.known_number) == (Status.PENDING, True)
    assert flow.check_code(owner, vonage.code).status == Status.VERIFIED


def test_within_30_s_the_owner_waits_for_another_accounts_code_and_nothing_is_spent(vonage, owner, frozen):
    others = send_from_another_account()
    frozen.shift(timedelta(seconds=10))

    with pytest.raises(SendLimitExceeded) as caught:
        flow.start_verification(owner, NUMBER, ip=OWNER_IP)

    assert (caught.value.scope, caught.value.retry_after) == ("other_account", 30 + 2 - 10)
    assert vonage.cancels == [others.request_id]  # asked, and refused: within 30 s of its start
    assert vonage.start_calls == 1
    assert not Challenge.objects.filter(user=owner).exists()
    others.refresh_from_db()
    assert others.status == Status.PENDING
    wait_message = (
        "A code asked for from another account is still on its way to your number. You can ask for yours in 22 seconds."
    )
    client = logged_in(owner)
    one_click = client.post(SEND, {"use_saved_number": "1", "next": PROTECTED}, REMOTE_ADDR=OWNER_IP)
    assert one_click.status_code == 302
    assert wait_message in client.get(one_click["Location"]).content.decode()
    verify_client(client, NUMBER)  # a session that may type a number: the refusal is shown next to the field
    typed = client.post(SEND, {"number": NUMBER, "next": PROTECTED}, REMOTE_ADDR=OWNER_IP)
    assert typed.status_code == 429
    assert wait_message in typed.content.decode()
    assert vonage.start_calls == 1
    assert not Challenge.objects.filter(user=owner).exists()

    frozen.shift(timedelta(seconds=22))
    flow.start_verification(owner, NUMBER, ip=OWNER_IP)

    others.refresh_from_db()
    assert others.status == Status.CANCELLED
    assert vonage.numbers() == [DIGITS, DIGITS]


def test_a_refused_send_from_the_number_form_is_shown_when_the_page_shows_the_number_on_file(db, settings):
    # A session that has not verified lately gets the number on file, not the form: the refusal must
    # still be read (it used to go to the hidden form's field, and the page said nothing).
    settings.VERIFICATION_SEND_LIMIT = 1
    owner = get_user_model().objects.create_user("owner-form")
    VerifiedNumber.objects.create(user=owner, number=NUMBER)
    client = logged_in(owner)
    flow.start_verification(owner, NUMBER)
    flow.cancel_verification(owner)
    settings.VERIFICATION_RESEND_COOLDOWN = 0

    response = client.post(reverse("verification:send"), {"number": NUMBER})

    assert response.status_code == 429
    assert "Too many codes have been requested." in response.content.decode()
