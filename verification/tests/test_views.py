"""The verification pages through Django's test client: the whole flow, every failure path, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from verification import errors, state, views
from verification.backends.locmem import LocmemVerifyBackend
from verification.exceptions import (
    CodeExpired,
    ConcurrentVerification,
    InvalidCode,
    InvalidNumber,
    Misconfigured,
    NoPendingVerification,
    ProviderThrottled,
    ProviderUnavailable,
    TooManyAttempts,
    VerificationError,
)
from verification.models import Challenge, VerifiedNumber
from verification.testing import latest_code, outbox
from verification.tests.feedback import feedback as texts

pytestmark = pytest.mark.django_db
NUMBER = "+447400123456"
NEW_NUMBER = "+447911125678"
PHONE = reverse("verification:phone")
SEND = reverse("verification:send")
CONFIRM = reverse("verification:confirm")
RESEND = reverse("verification:resend")
CANCEL = reverse("verification:cancel")
PROTECTED = "/shop/1/"
#: LOGIN_REDIRECT_URL: where a missing or unsafe `next` leads.
HOME = reverse("home")


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def sent_to(client: Client, number: str = NUMBER, next_url: str = PROTECTED):
    response = client.post(SEND, {"number": number, "next": next_url})
    assert response.status_code == 302, response.content.decode()
    return response


def verified_with(client: Client, number: str = NUMBER) -> None:
    """Verify `number` through the pages: it is then on file, and this session may change it for a while."""
    sent_to(client, number)
    assert client.post(CONFIRM, {"code": latest_code()}).status_code == 302


# --- the whole flow ------------------------------------------------------------------------------------


def test_the_whole_flow_from_a_protected_page_back_to_it(alice, user):
    first = alice.get(PROTECTED)
    assert first.status_code == 302
    assert first["Location"] == f"{PHONE}?next=/shop/1/"

    page = alice.get(first["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="number"' in html
    assert 'autocomplete="tel"' in html
    assert 'value="/shop/1/"' in html
    assert ">Send code</button>" in html

    sent = alice.post(SEND, {"number": "+44 7400 123456", "next": PROTECTED})
    assert sent.status_code == 302
    assert sent["Location"] == f"{CONFIRM}?next=/shop/1/"
    [message] = outbox()
    assert message.number == NUMBER

    form = alice.get(sent["Location"])
    html = form.content.decode()
    assert "+44 •••• ••3456" in html
    assert NUMBER not in html
    assert 'autocomplete="one-time-code"' in html
    assert 'inputmode="numeric"' in html
    assert ">Verify</button>" in html
    assert ">Resend code</button>" in html
    assert ">Use another number</button>" in html

    session_key = alice.session.session_key
    csrf_before = alice.cookies[django_settings.CSRF_COOKIE_NAME].value
    done = alice.post(CONFIRM, {"code": message.code, "next": PROTECTED})
    assert done.status_code == 302
    assert done["Location"] == PROTECTED
    assert alice.session.session_key != session_key
    assert alice.cookies[django_settings.CSRF_COOKIE_NAME].value != csrf_before
    assert alice.get(PROTECTED).status_code == 200
    assert VerifiedNumber.objects.get(user=user).number == NUMBER
    assert state.get_state(alice.get(PROTECTED).wsgi_request).number == NUMBER


@pytest.mark.parametrize("unsafe", ["https://evil.example/", "//evil.example/", "/verify/", "", "/\\evil.example"])
def test_an_unsafe_or_missing_next_lands_on_the_default_page(alice, unsafe):
    sent_to(alice, next_url=unsafe)

    done = alice.post(CONFIRM, {"code": latest_code(), "next": unsafe})

    assert done.status_code == 302
    assert done["Location"] == HOME


def test_an_unsafe_next_is_not_carried_along(alice):
    sent = alice.post(SEND, {"number": NUMBER, "next": "https://evil.example/"})

    assert sent["Location"] == CONFIRM
    assert "evil" not in alice.get(CONFIRM).content.decode()


def test_a_verified_number_is_offered_masked_with_one_click(alice, user):
    VerifiedNumber.objects.create(user=user, number=NUMBER)

    page = alice.get(PHONE, {"next": PROTECTED})
    html = page.content.decode()
    assert "+44 •••• ••3456" in html
    assert NUMBER not in html
    assert 'name="number"' not in html
    # Not verified in this session: no other number may be used, and the page says what to do without the phone.
    assert ">Use another number</button>" not in html
    assert "Lost this phone? Ask the site's staff to reset your number." in html

    sent = alice.post(SEND, {views.USE_SAVED_FIELD: "1", "next": PROTECTED})
    assert sent["Location"] == f"{CONFIRM}?next=/shop/1/"
    assert outbox()[-1].number == NUMBER


def test_use_another_number_shows_the_form_and_the_old_number_stays_until_confirmed(alice, user, frozen):
    verified_with(alice, NUMBER)
    assert ">Use another number</button>" in alice.get(PHONE).content.decode()

    page = alice.get(PHONE, {"other": "1", "next": PROTECTED})
    assert 'name="number"' in page.content.decode()

    sent_to(alice, NEW_NUMBER)
    assert VerifiedNumber.objects.get(user=user).number == NUMBER
    alice.post(CONFIRM, {"code": wrong(latest_code())})
    assert VerifiedNumber.objects.get(user=user).number == NUMBER

    alice.post(CONFIRM, {"code": latest_code()})
    assert VerifiedNumber.objects.get(user=user).number == NEW_NUMBER


def test_one_click_without_a_number_on_file_asks_for_one(alice):
    response = alice.post(SEND, {views.USE_SAVED_FIELD: "1"})

    assert response["Location"] == PHONE
    assert "no verified number" in texts(response)[0]
    assert not outbox()


def test_channels_are_offered_when_there_is_a_choice(alice, settings, user):
    settings.VERIFICATION_CHANNELS = ["sms", "voice"]
    html = alice.get(PHONE).content.decode()
    assert 'name="channel"' in html
    assert "Voice call" in html

    sent = alice.post(SEND, {"number": NUMBER, "channel": "voice"})
    assert sent.status_code == 302
    assert outbox()[-1].channel == "voice"

    VerifiedNumber.objects.create(user=user, number=NUMBER)
    assert 'name="channel"' in alice.get(PHONE).content.decode()


def test_a_single_channel_shows_no_choice(alice):
    assert 'name="channel"' not in alice.get(PHONE).content.decode()


# --- wrong input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "Enter your phone number."),
        ("hello", "Enter a valid phone number"),
        ("+448001234567", "toll-free"),
        ("+449012345678", "premium-rate"),
        ("+44 7400 123456 ext. 3", "without an extension"),
        ("+447700900123", "not a valid phone number"),
    ],
)
def test_a_refused_number_is_explained_next_to_the_field(alice, number, message):
    response = alice.post(SEND, {"number": number, "next": PROTECTED})

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'id="id_number_error"' in html
    assert 'aria-invalid="true"' in html
    assert 'value="/shop/1/"' in html
    assert not outbox()


def test_a_missing_number_field_is_explained(alice):
    response = alice.post(SEND, {})

    assert response.status_code == 400
    assert "Enter your phone number." in response.content.decode()


def test_a_country_outside_the_allowed_ones_is_refused(alice, settings):
    settings.VERIFICATION_ALLOWED_COUNTRIES = ["FR"]

    response = alice.post(SEND, {"number": NUMBER})

    assert response.status_code == 400
    assert "this country" in response.content.decode()


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12 345", "12345a", "١٢٣٤٥٦", "\t123456"])
def test_a_malformed_code_is_explained_and_uses_no_attempt(alice, code):
    sent_to(alice)

    response = alice.post(CONFIRM, {"code": code, "next": PROTECTED})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_code_error"' in html
    assert Challenge.objects.get().attempts == 0


def test_spaces_around_a_pasted_code_are_forgiven(alice):
    sent_to(alice)

    response = alice.post(CONFIRM, {"code": f" {latest_code()} ", "next": PROTECTED})

    assert response["Location"] == PROTECTED


def test_a_wrong_code_says_how_many_tries_are_left(alice):
    sent_to(alice)

    response = alice.post(CONFIRM, {"code": wrong(latest_code()), "next": PROTECTED})

    assert response.status_code == 400
    assert "You can try 4 more times." in response.content.decode()


def test_five_wrong_codes_end_the_challenge_even_for_the_right_code(alice):
    sent_to(alice)
    code = latest_code()
    for _ in range(4):
        assert alice.post(CONFIRM, {"code": wrong(code)}).status_code == 400

    locked = alice.post(CONFIRM, {"code": wrong(code), "next": PROTECTED})
    assert locked["Location"] == f"{PHONE}?next=/shop/1/"
    assert "Too many wrong codes" in texts(locked)[0]

    late = alice.post(CONFIRM, {"code": code, "next": PROTECTED})
    assert late["Location"] == f"{PHONE}?next=/shop/1/"
    assert "No code is waiting" in texts(late)[-1]
    assert alice.get(PROTECTED).status_code == 302


# --- odd states ----------------------------------------------------------------------------------------


def test_confirm_without_a_pending_code_sends_back_to_the_phone_step(alice):
    response = alice.get(CONFIRM, {"next": PROTECTED})

    assert response["Location"] == f"{PHONE}?next=/shop/1/"
    assert "No code is waiting" in texts(response)[0]


def test_a_replayed_confirm_finds_nothing_to_confirm(alice):
    sent_to(alice)
    code = latest_code()
    alice.post(CONFIRM, {"code": code})

    replay = alice.post(CONFIRM, {"code": code, "next": PROTECTED})

    assert replay.status_code == 302
    assert replay["Location"] == f"{PHONE}?next=/shop/1/"
    assert any("No code is waiting" in text for text in texts(replay))


def test_a_late_code_is_expired(alice, frozen):
    sent_to(alice)
    frozen.shift(timedelta(seconds=301))

    response = alice.post(CONFIRM, {"code": latest_code()})

    assert response["Location"] == PHONE
    assert "expired" in texts(response)[0]


def test_a_post_with_no_fields_at_all_is_never_a_500(alice):
    assert alice.post(CONFIRM, {}).status_code == 302
    sent_to(alice)
    assert alice.post(CONFIRM, {}).status_code == 400
    assert alice.post(RESEND, {}).status_code == 302
    assert alice.post(CANCEL, {}).status_code == 302


def test_another_users_code_does_not_verify_me(alice, client):
    bob = get_user_model().objects.create_user("bob")
    bobs_client = Client()
    bobs_client.force_login(bob)
    sent_to(bobs_client)

    response = alice.post(CONFIRM, {"code": latest_code()})

    assert response["Location"] == PHONE
    assert not VerifiedNumber.objects.exists()


# --- resend and cancel ---------------------------------------------------------------------------------


def test_resend_waits_for_the_cooldown_shown_on_the_page(alice, frozen):
    sent_to(alice)
    assert "in 30 seconds" in alice.get(CONFIRM).content.decode()

    frozen.shift(timedelta(seconds=10))
    early = alice.post(RESEND, {"next": PROTECTED})
    assert early["Location"] == f"{CONFIRM}?next=/shop/1/"
    assert "20 seconds" in texts(early)[0]
    assert len(outbox()) == 1

    frozen.shift(timedelta(seconds=20))
    assert "in 30 seconds" not in alice.get(CONFIRM).content.decode()
    resent = alice.post(RESEND, {"next": PROTECTED})
    assert resent["Location"] == f"{CONFIRM}?next=/shop/1/"
    assert "A new code was sent to +44 •••• ••3456" in texts(resent)[0]
    assert len(outbox()) == 2
    assert alice.post(CONFIRM, {"code": latest_code()})["Location"] == HOME


def test_resend_with_nothing_to_resend_goes_to_the_phone_step(alice):
    response = alice.post(RESEND, {"next": PROTECTED})

    assert response["Location"] == f"{PHONE}?next=/shop/1/"
    assert "No code is waiting" in texts(response)[0]


def test_sending_twice_to_the_same_number_goes_to_the_code_already_sent(alice):
    sent_to(alice)

    again = alice.post(SEND, {"number": NUMBER, "next": PROTECTED})

    assert again["Location"] == f"{CONFIRM}?next=/shop/1/"
    assert "A code was just sent to +44 •••• ••3456" in texts(again)[0]
    assert len(outbox()) == 1


def test_cancel_returns_to_the_phone_step(alice, mocker):
    sent_to(alice)
    code = latest_code()

    cancelled = alice.post(CANCEL, {"next": PROTECTED})

    assert cancelled["Location"] == f"{PHONE}?next=/shop/1/"
    assert Challenge.objects.get().status == Challenge.Status.CANCELLED
    assert alice.post(CONFIRM, {"code": code})["Location"] == PHONE


def test_use_another_number_from_the_code_page(alice, user, frozen):
    verified_with(alice, NUMBER)
    frozen.shift(timedelta(seconds=30))
    sent_to(alice)

    response = alice.post(CANCEL, {"other": "1", "next": PROTECTED})

    assert response["Location"] == f"{PHONE}?other=1&next=/shop/1/"
    assert 'name="number"' in alice.get(response["Location"]).content.decode()


def test_too_many_sends_tell_when_to_retry(alice, frozen):
    numbers = [NUMBER, NEW_NUMBER, "+447400123457"]
    for number in numbers:
        sent_to(alice, number)

    response = alice.post(SEND, {"number": "+447400123458"})

    assert response.status_code == 429
    assert "Try again in 10 minutes." in response.content.decode()


# --- the backend failing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (InvalidNumber(), 400, "cannot receive a code"),
        (ConcurrentVerification(), 400, "already on its way"),
        (ProviderThrottled(retry_after=120), 429, "busy. Try again in 2 minutes"),
        (ProviderThrottled(), 429, "busy. Try again in a few minutes"),
        (ProviderUnavailable(), 503, "could not reach the messaging service"),
        (Misconfigured(), 503, "not available right now"),
        (VerificationError(), 400, "Something went wrong"),
        (RuntimeError("a bug in a backend"), 503, "could not reach the messaging service"),
    ],
)
def test_every_send_failure_is_a_message_next_to_the_number(alice, mocker, error, status, message):
    mocker.patch.object(LocmemVerifyBackend, "start", side_effect=error)

    response = alice.post(SEND, {"number": NUMBER, "next": PROTECTED})

    assert response.status_code == status
    assert message in response.content.decode()
    assert 'value="/shop/1/"' in response.content.decode()


def test_a_send_failure_on_the_one_click_path_is_a_message(alice, mocker, user):
    VerifiedNumber.objects.create(user=user, number=NUMBER)
    mocker.patch.object(LocmemVerifyBackend, "start", side_effect=ProviderUnavailable())

    response = alice.post(SEND, {views.USE_SAVED_FIELD: "1", "next": PROTECTED})

    assert response["Location"] == f"{PHONE}?next=/shop/1/"
    assert "could not reach" in texts(response)[0]


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (InvalidCode(), 400, "not right"),
        (ProviderUnavailable(), 503, "could not reach the messaging service"),
        (ProviderThrottled(), 429, "busy"),
        (Misconfigured(), 503, "not available right now"),
        (KeyError("a bug in a backend"), 503, "could not reach the messaging service"),
    ],
)
def test_check_failures_that_keep_the_challenge_show_next_to_the_code(alice, mocker, error, status, message):
    sent_to(alice)
    mocker.patch.object(LocmemVerifyBackend, "check", side_effect=error)

    response = alice.post(CONFIRM, {"code": "123456", "next": PROTECTED})

    assert response.status_code == status
    assert message in response.content.decode()
    assert 'id="id_code_error"' in response.content.decode()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (TooManyAttempts(), "Too many wrong codes"),
        (CodeExpired(), "expired"),
        (NoPendingVerification(), "No code is waiting"),
        (ConcurrentVerification(), "already on its way"),
        (VerificationError(), "Something went wrong"),
    ],
)
def test_check_failures_that_end_the_challenge_send_back_to_the_phone_step(alice, mocker, error, message):
    sent_to(alice)
    mocker.patch.object(LocmemVerifyBackend, "check", side_effect=error)

    response = alice.post(CONFIRM, {"code": "123456", "next": PROTECTED})

    assert response["Location"] == f"{PHONE}?next=/shop/1/"
    assert message in texts(response)[0]


def test_a_wrong_code_on_the_last_attempt_is_told_with_a_next_step(alice, mocker, settings):
    settings.VERIFICATION_MAX_ATTEMPTS = 1
    sent_to(alice)

    response = alice.post(CONFIRM, {"code": wrong(latest_code())})

    assert response["Location"] == PHONE
    assert "Ask for a new code" in texts(response)[0]


@pytest.mark.parametrize("error", [ProviderUnavailable(), InvalidNumber(), Misconfigured()])
def test_a_failed_resend_says_so(alice, mocker, frozen, error):
    sent_to(alice)
    frozen.shift(timedelta(seconds=30))
    mocker.patch.object(LocmemVerifyBackend, "start", side_effect=error)

    response = alice.post(RESEND, {"next": PROTECTED})

    assert response.status_code == 302
    assert texts(response)
    assert alice.get(response["Location"]).status_code == 200


def test_a_cancel_failing_at_the_backend_still_cancels(alice, mocker):
    sent_to(alice)
    mocker.patch.object(LocmemVerifyBackend, "cancel", side_effect=ProviderUnavailable())

    response = alice.post(CANCEL, {})

    assert response.status_code == 302
    assert Challenge.objects.get().status == Challenge.Status.CANCELLED


# --- HTTP hygiene --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [SEND, RESEND, CANCEL])
def test_state_changes_are_post_only(alice, url):
    assert alice.get(url).status_code == 405


def test_confirm_refuses_other_methods(alice):
    assert alice.put(CONFIRM).status_code == 405
    assert alice.post(PHONE).status_code == 405


@pytest.mark.parametrize("url", [PHONE, CONFIRM, SEND, RESEND, CANCEL])
def test_anonymous_users_are_sent_to_log_in(client, url):
    response = client.get(url) if url in (PHONE, CONFIRM) else client.post(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", [SEND, CONFIRM, RESEND, CANCEL])
def test_csrf_is_enforced(user, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(url, {"number": NUMBER, "code": "123456"}).status_code == 403


def test_the_pages_are_never_cached(alice):
    sent_to(alice)
    for response in (alice.get(PHONE), alice.get(CONFIRM), alice.post(CONFIRM, {"code": "x"})):
        assert "no-cache" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


def test_code_and_number_are_hidden_from_error_reports(alice):
    for url, data in ((SEND, {"number": NUMBER}), (CONFIRM, {"code": "123456"})):
        request = alice.post(url, data).wsgi_request

        assert request.sensitive_post_parameters == ("code", "number")


def test_wait_text():
    assert errors.wait_text(1) == "1 second"
    assert errors.wait_text(59) == "59 seconds"
    assert errors.wait_text(60) == "1 minute"
    assert errors.wait_text(61) == "2 minutes"
