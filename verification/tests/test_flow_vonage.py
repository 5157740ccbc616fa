"""The verification pages end to end with each Vonage backend in place of locmem, Vonage faked at the transport."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
import time_machine
from django.urls import reverse

from verification.tests.fake_vonage import LEGACY_BACKEND, V2_BACKEND, FakeVonage, dropped_connection, use_key_pair

NUMBER = "+447400123456"
DIGITS = "447400123456"
OTHER_NUMBER = "+447400654321"
OTHER_DIGITS = "447400654321"

PHONE_URL = reverse("verification:phone")
SEND_URL = reverse("verification:send")
CONFIRM_URL = reverse("verification:confirm")
RESEND_URL = reverse("verification:resend")
CANCEL_URL = reverse("verification:cancel")
PROTECTED_URL = reverse("shop:detail", args=[1])


@pytest.fixture(params=["v2", "legacy"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def vonage(api: str, settings: Any) -> Iterator[FakeVonage]:
    """Select the Vonage backend of `api` and fake Vonage behind it."""
    use_key_pair(settings, V2_BACKEND if api == "v2" else LEGACY_BACKEND)
    settings.VERIFICATION_CODE_LENGTH = 6
    settings.VERIFICATION_BRAND = "Example Shop"
    settings.VERIFICATION_CHANNELS = ["sms"]
    settings.VONAGE_CHANNEL_TIMEOUT = 300
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        yield FakeVonage(http)


@pytest.fixture
def user(client: Any, django_user_model: Any) -> Any:
    user = django_user_model.objects.create(username="alice")
    client.force_login(user)
    return user


def send(client: Any, number: str = NUMBER, next_url: str = "", **extra: Any) -> Any:
    return client.post(SEND_URL, {"number": number, "next": next_url}, **extra)


def confirm(client: Any, code: str, next_url: str = "", **extra: Any) -> Any:
    return client.post(CONFIRM_URL, {"code": code, "next": next_url}, **extra)


def page_text(response: Any) -> str:
    return response.content.decode()


# --- the way through ----------------------------------------------------------------------------------


def test_a_user_verifies_through_vonage_and_reaches_the_protected_page(vonage, client, user, api):
    response = client.get(PROTECTED_URL)
    assert response.status_code == 302
    assert response.url.startswith(PHONE_URL)

    response = send(client, next_url=PROTECTED_URL)
    assert response.status_code == 302
    assert response.url.startswith(CONFIRM_URL)
    assert vonage.numbers() == [DIGITS]
    sent = vonage.starts[0]
    if api == "v2":
        assert (sent["brand"], sent["code_length"], sent["locale"]) == ("Example Shop", 6, "en-us")
    else:
        assert (sent["brand"], sent["code_length"], sent["lg"]) == ("Example Shop", "6", "en-us")

    response = confirm(client, vonage.code, PROTECTED_URL)
    assert response.status_code == 302
    assert response.url == PROTECTED_URL
    assert client.get(PROTECTED_URL).status_code == 200
    assert len(vonage.checks) == 1


def test_a_wrong_code_may_be_corrected(vonage, client, user):
    send(client, next_url=PROTECTED_URL)

    response = confirm(client, "000000", PROTECTED_URL)
    assert response.status_code == 400
    assert "That code is not right." in page_text(response)

    response = confirm(client, vonage.code, PROTECTED_URL)
    assert response.status_code == 302
    assert response.url == PROTECTED_URL
    assert [code for _, code in vonage.checks] == ["000000", vonage.code]


def test_when_vonage_ends_the_request_after_wrong_codes_even_the_right_one_fails(vonage, client, user):
    send(client)
    for _ in range(FakeVonage.WRONG_CODES_ALLOWED):
        assert confirm(client, "000000").status_code == 400

    response = confirm(client, vonage.code, follow=True)

    assert response.redirect_chain[0][0].startswith(PHONE_URL)
    assert "Too many wrong codes" in page_text(response)
    assert confirm(client, vonage.code).status_code == 302  # nothing pending any more: back to the phone step
    assert len(vonage.checks) == FakeVonage.WRONG_CODES_ALLOWED + 1


def test_a_code_that_expired_at_vonage_asks_for_a_new_one(vonage, client, user):
    send(client)
    vonage.expire(next(iter(vonage.requests)))

    response = confirm(client, vonage.code, follow=True)

    assert response.redirect_chain[0][0].startswith(PHONE_URL)
    assert "That code has expired." in page_text(response)


# --- provider requests are cancelled: resend, cancel, another number -----------------------------------


def test_a_resend_cancels_the_old_request_at_vonage_and_the_new_code_works(vonage, client, user, settings):
    settings.VERIFICATION_RESEND_COOLDOWN = 30
    with time_machine.travel(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), tick=False) as clock:
        send(client)
        first = next(iter(vonage.requests))
        clock.shift(31)

        response = client.post(RESEND_URL)

        assert response.status_code == 302
        assert response.url.startswith(CONFIRM_URL)
        assert vonage.cancels == [first]
        assert vonage.requests[first]["state"] == "cancelled"
        assert vonage.numbers() == [DIGITS, DIGITS]
        second = list(vonage.requests)[1]
        assert confirm(client, vonage.code).status_code == 302
        assert vonage.checks == [(second, vonage.code)]


def test_cancel_cancels_the_request_at_vonage(vonage, client, user):
    send(client)
    request_id = next(iter(vonage.requests))

    response = client.post(CANCEL_URL, follow=True)

    assert vonage.cancels == [request_id]
    assert "The code was cancelled." in page_text(response)


def test_a_new_number_cancels_the_request_to_the_old_one(vonage, client, user):
    send(client, NUMBER)
    first = next(iter(vonage.requests))

    response = send(client, OTHER_NUMBER)

    assert response.status_code == 302
    assert vonage.cancels == [first]
    assert vonage.numbers() == [DIGITS, OTHER_DIGITS]


# --- what Vonage refuses becomes a message, never a 500 ------------------------------------------------


def test_a_verification_already_in_progress_at_vonage_tells_the_user_a_code_is_on_its_way(vonage, client, user, api):
    stale = vonage.in_progress(DIGITS)

    response = send(client)

    assert response.status_code == 400
    assert "A code is already on its way to this number." in page_text(response)
    # Only the legacy API names the request in progress, so only there can it be cancelled.
    assert vonage.cancels == ([] if api == "v2" else [stale])


FAILURES: dict[str, tuple[dict[str, Any], dict[str, Any], int, str]] = {
    "unavailable": (
        {"status": 500, "json": {"title": "Internal error"}},
        {"status": 200, "json": {"status": "5", "error_text": "Internal Error"}},
        503,
        "We could not reach the messaging service.",
    ),
    "throttled": (
        {"status": 429, "json": {"title": "Rate Limit Hit"}, "headers": {"Retry-After": "120"}},
        {"status": 200, "json": {"status": "1", "error_text": "Throttled"}},
        429,
        "The messaging service is busy.",
    ),
    "invalid number": (
        {"status": 422, "json": {"title": "Invalid params", "invalid_parameters": [{"name": "to", "reason": "no"}]}},
        {"status": 200, "json": {"status": "3", "error_text": "Invalid value for number"}},
        400,
        "This number cannot receive a code.",
    ),
    "bad credentials": (
        {"status": 401, "json": {"title": "Unauthorized"}},
        {"status": 200, "json": {"status": "4", "error_text": "Invalid credentials were provided"}},
        503,
        "Phone verification is not available right now.",
    ),
    "dropped connection": (
        {"body": dropped_connection()},
        {"body": dropped_connection()},
        503,
        "We could not reach the messaging service.",
    ),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_refused_send_shows_what_to_do_next_after_exactly_one_request(vonage, client, user, api, failure):
    v2_answer, legacy_answer, status, message = FAILURES[failure]
    vonage.fail_next(**(v2_answer if api == "v2" else legacy_answer))

    response = send(client)

    assert response.status_code == status
    assert message in page_text(response)
    assert vonage.start_calls == 1
    assert client.get(CONFIRM_URL).url.startswith(PHONE_URL)  # nothing pending


@pytest.mark.parametrize("api", ["v2"])  # the legacy API gives no Retry-After
def test_throttling_says_how_long_to_wait_when_vonage_says(vonage, client, user, api):
    vonage.fail_next(status=429, json={"title": "Rate Limit Hit"}, headers={"Retry-After": "120"})

    response = send(client)

    assert "Try again in 2 minutes." in page_text(response)


def test_missing_credentials_are_a_message_and_no_request(vonage, client, user, settings):
    settings.VONAGE_API_KEY = ""
    settings.VONAGE_API_SECRET = ""

    response = send(client)

    assert response.status_code == 503
    assert "Phone verification is not available right now." in page_text(response)
    assert vonage.start_calls == 0


# --- our own limits apply in front of Vonage -----------------------------------------------------------------


def test_the_send_budget_blocks_before_vonage_is_asked(vonage, client, user, settings):
    settings.VERIFICATION_SEND_LIMIT = 1

    send(client, NUMBER)
    response = send(client, OTHER_NUMBER)

    assert response.status_code == 429
    assert "Too many codes have been requested." in page_text(response)
    assert vonage.start_calls == 1


def test_a_wrong_code_in_the_wrong_shape_never_reaches_vonage(vonage, client, user):
    send(client)

    response = confirm(client, "12ab56")

    assert response.status_code == 400
    assert vonage.checks == []
