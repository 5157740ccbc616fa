"""The legacy Vonage Verify backend (the tutorial's API) on the real SDK, HTTP faked at the transport."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
import requests
import responses

from verification.backends.vonage import VonageLegacyVerifyBackend
from verification.exceptions import (
    CodeExpired,
    ConcurrentVerification,
    InvalidCode,
    InvalidNumber,
    Misconfigured,
    ProviderThrottled,
    ProviderUnavailable,
    TooManyAttempts,
)
from verification.tests.fake_vonage import (
    API_KEY,
    API_SECRET,
    APPLICATION_ID,
    DIGITS,
    LEGACY_BACKEND,
    LEGACY_CHECK_URL,
    LEGACY_CONTROL_URL,
    LEGACY_REQUEST_ID,
    LEGACY_START_URL,
    MASKED,
    NUMBER,
    dropped_connection,
    form,
    problem,
    use_application,
    use_key_pair,
)

CHECK_SUCCESS = {
    "request_id": LEGACY_REQUEST_ID,
    "event_id": "0A00000012345678",
    "status": "0",
    "price": "0.10000000",
    "currency": "EUR",
}


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Fake the HTTP transport; a request nobody registered fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def backend(settings) -> VonageLegacyVerifyBackend:
    use_key_pair(settings, LEGACY_BACKEND)
    settings.VERIFICATION_BRAND = "Pollstr"
    settings.VERIFICATION_CODE_LENGTH = 6
    settings.VONAGE_CHANNEL_TIMEOUT = 300
    return VonageLegacyVerifyBackend()


def started(http: responses.RequestsMock) -> None:
    http.add(responses.POST, LEGACY_START_URL, json={"request_id": LEGACY_REQUEST_ID, "status": "0"})


def refused(status: str, error_text: str = "", **extra: str) -> dict:
    """Answer as the legacy API does when it refuses: HTTP 200 with a non-zero status."""
    return {"json": {"status": status, "error_text": error_text} | extra}


# --- start --------------------------------------------------------------------------------------------


def test_start_posts_the_tutorials_request_with_basic_auth(backend, http):
    started(http)

    request_id = backend.start(NUMBER, locale="en-gb")

    assert request_id == LEGACY_REQUEST_ID
    assert len(http.calls) == 1
    request = http.calls[0].request
    assert request.url == LEGACY_START_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert form(request.body) == {
        "number": DIGITS,
        "brand": "Pollstr",
        "code_length": "6",
        "lg": "en-gb",
        "workflow_id": "6",
        "next_event_wait": "300",
        "pin_expiry": "300",
    }
    assert request.req_kwargs["timeout"] == 10


@pytest.mark.parametrize(("channel", "workflow"), [("sms", "6"), ("voice", "7")])
def test_start_picks_the_single_event_workflow_of_the_channel(backend, http, channel, workflow):
    started(http)

    backend.start(NUMBER, channel=channel)

    assert form(http.calls[0].request.body)["workflow_id"] == workflow


def test_start_sends_the_configured_code_length_wait_and_a_legacy_only_locale(backend, http, settings):
    settings.VERIFICATION_CODE_LENGTH = 4
    settings.VONAGE_CHANNEL_TIMEOUT = 120
    started(http)

    backend.start(NUMBER, locale="ja")

    sent = form(http.calls[0].request.body)
    assert (sent["code_length"], sent["next_event_wait"], sent["pin_expiry"], sent["lg"]) == (
        "4",
        "120",
        "120",
        "ja-jp",
    )


@pytest.mark.parametrize("channel", ["whatsapp", "email"])
def test_a_channel_legacy_cannot_send_is_misconfigured_before_any_request(backend, http, channel):
    with pytest.raises(Misconfigured):
        backend.start(NUMBER, channel=channel)

    assert len(http.calls) == 0


def test_a_code_length_legacy_refuses_is_misconfigured_before_any_request(backend, http, settings):
    settings.VERIFICATION_CODE_LENGTH = 5

    with pytest.raises(Misconfigured):
        backend.start(NUMBER)

    assert len(http.calls) == 0


def test_application_credentials_alone_are_misconfigured_before_any_request(settings, http):
    use_application(settings, LEGACY_BACKEND)

    with pytest.raises(Misconfigured):
        VonageLegacyVerifyBackend().start(NUMBER)

    assert len(http.calls) == 0


@pytest.mark.parametrize("number", ["+0447700900123", "12", "+44 7700 900123"])
def test_a_number_that_is_not_e164_is_refused_before_any_request(backend, http, number):
    with pytest.raises(InvalidNumber):
        backend.start(number)

    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (refused("1", "Throttled"), ProviderThrottled),
        (refused("2", "Missing brand"), Misconfigured),
        (refused("3", "Invalid value for number"), InvalidNumber),
        (refused("3", "Invalid value for param: brand"), Misconfigured),
        (refused("4", "Invalid credentials were provided"), Misconfigured),
        (refused("5", "Internal Error"), ProviderUnavailable),
        (refused("6", "The Vonage platform was unable to process this message: could not be routed."), InvalidNumber),
        (
            refused("7", "The number you are trying to verify is blacklisted for verification.", network="244523"),
            InvalidNumber,
        ),
        (refused("8", "The api_key you supplied is for an account that has been barred."), Misconfigured),
        (refused("9", "Partner quota exceeded"), ProviderUnavailable),
        (refused("15", "The destination number is not in a supported network"), InvalidNumber),
        (refused("20", "This account does not support the parameter: pin_code."), Misconfigured),
        (refused("29", "Your Vonage account is still in demo mode."), InvalidNumber),
        (refused("42", "Something new"), ProviderUnavailable),
        ({"json": {"error_text": "no status"}}, ProviderUnavailable),
        ({"body": "<html>oops</html>"}, ProviderUnavailable),
        (problem(401, "Unauthorized"), Misconfigured),
        (problem(429, "Too Many Requests"), ProviderThrottled),
        (problem(500, "Internal error"), ProviderUnavailable),
        (problem(503, "Unavailable"), ProviderUnavailable),
    ],
)
def test_start_failures_become_the_apps_exceptions(backend, http, answer, error):
    http.add(responses.POST, LEGACY_START_URL, **answer)

    with pytest.raises(error):
        backend.start(NUMBER)

    assert len(http.calls) == 1


def test_a_concurrent_verification_names_the_active_request_to_cancel(backend, http):
    http.add(
        responses.POST,
        LEGACY_START_URL,
        **refused("10", "Concurrent verifications to the same number are not allowed", request_id=LEGACY_REQUEST_ID),
    )

    with pytest.raises(ConcurrentVerification) as caught:
        backend.start(NUMBER)

    assert caught.value.provider_request_id == LEGACY_REQUEST_ID


@pytest.mark.parametrize(
    "failure",
    [dropped_connection(), requests.exceptions.ReadTimeout(), requests.exceptions.ConnectionError("DNS failure")],
    ids=["dropped", "timeout", "dns"],
)
def test_a_network_failure_during_start_is_unavailable_after_exactly_one_request(backend, http, failure):
    http.add(responses.POST, LEGACY_START_URL, body=failure)
    started(http)  # what a silent re-send would reach

    with pytest.raises(ProviderUnavailable):
        backend.start(NUMBER)

    assert len(http.calls) == 1


# --- check ----------------------------------------------------------------------------------------------


def test_check_posts_request_id_and_code_and_returns_on_success(backend, http):
    http.add(responses.POST, LEGACY_CHECK_URL, json=CHECK_SUCCESS)

    assert backend.check(LEGACY_REQUEST_ID, "123456") is None

    request = http.calls[0].request
    assert request.url == LEGACY_CHECK_URL
    assert form(request.body) == {"request_id": LEGACY_REQUEST_ID, "code": "123456"}
    assert request.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (refused("16", "The code inserted does not match the expected value"), InvalidCode),
        (refused("17", "The wrong code was provided too many times. Request terminated"), TooManyAttempts),
        (refused("6", "Request 'abcdef' was not found or it has been verified already."), CodeExpired),
        (refused("3", "Invalid value for param: request_id"), CodeExpired),
        (refused("3", "Invalid value for param: code"), InvalidCode),
        (refused("1", "Throttled"), ProviderThrottled),
        (refused("2", "Missing request_id"), Misconfigured),
        (refused("4", "Bad credentials"), Misconfigured),
        (refused("5", "Internal Error"), ProviderUnavailable),
        (refused("99", "Unheard of"), ProviderUnavailable),
        (problem(500, "Internal error"), ProviderUnavailable),
        ({"body": requests.exceptions.ReadTimeout()}, ProviderUnavailable),
    ],
)
def test_check_failures_become_the_apps_exceptions(backend, http, answer, error):
    http.add(responses.POST, LEGACY_CHECK_URL, **answer)

    with pytest.raises(error) as caught:
        backend.check(LEGACY_REQUEST_ID, "123456")

    assert caught.value.provider_request_id == LEGACY_REQUEST_ID


def test_a_dropped_connection_during_check_is_not_retried(backend, http):
    http.add(responses.POST, LEGACY_CHECK_URL, body=dropped_connection())
    http.add(responses.POST, LEGACY_CHECK_URL, json=CHECK_SUCCESS)

    with pytest.raises(ProviderUnavailable):
        backend.check(LEGACY_REQUEST_ID, "123456")

    assert len(http.calls) == 1


# --- cancel -----------------------------------------------------------------------------------------------


def test_cancel_sends_the_cancel_command(backend, http):
    http.add(responses.POST, LEGACY_CONTROL_URL, json={"status": "0", "command": "cancel"})

    assert backend.cancel(LEGACY_REQUEST_ID) is None

    assert form(http.calls[0].request.body) == {"request_id": LEGACY_REQUEST_ID, "cmd": "cancel"}


@pytest.mark.parametrize(
    "answer", [refused("6", "The requestId does not exist or its no longer active."), refused("3")]
)
def test_cancel_ignores_unknown_or_finished_requests(backend, http, answer):
    http.add(responses.POST, LEGACY_CONTROL_URL, **answer)

    backend.cancel(LEGACY_REQUEST_ID)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (refused("19", "Verification request can't be cancelled within the first 30 seconds."), ConcurrentVerification),
        (refused("1", "Throttled"), ProviderThrottled),
        (refused("4", "Bad credentials"), Misconfigured),
        (refused("5", "Internal Error"), ProviderUnavailable),
        (refused("9", "Partner quota exceeded"), ProviderUnavailable),
        ({"body": dropped_connection()}, ProviderUnavailable),
    ],
)
def test_cancel_failures_become_the_apps_exceptions(backend, http, answer, error):
    http.add(responses.POST, LEGACY_CONTROL_URL, **answer)

    with pytest.raises(error) as caught:
        backend.cancel(LEGACY_REQUEST_ID)

    assert caught.value.provider_request_id == LEGACY_REQUEST_ID
    assert len(http.calls) == 1


# --- logs -----------------------------------------------------------------------------------------------------


def test_nothing_sensitive_is_logged_even_with_the_sdk_logger_at_debug(backend, http, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="vonage")
    started(http)
    http.add(responses.POST, LEGACY_CHECK_URL, **refused("16", "The code inserted does not match the expected value"))
    http.add(responses.POST, LEGACY_START_URL, **refused("5", f"Internal Error for {DIGITS}"))

    backend.start(NUMBER)
    with pytest.raises(InvalidCode):
        backend.check(LEGACY_REQUEST_ID, "987654")
    with pytest.raises(ProviderUnavailable):
        backend.start(NUMBER)

    logged = caplog.text
    assert MASKED in logged
    basic = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    for secret in (DIGITS, DIGITS[-9:], "987654", API_SECRET, basic):
        assert secret not in logged


# --- system checks ----------------------------------------------------------------------------------------------


@pytest.fixture
def legacy_settings(settings):
    use_key_pair(settings, LEGACY_BACKEND)
    settings.VERIFICATION_CODE_LENGTH = 6
    settings.VERIFICATION_BRAND = "Pollstr"
    settings.VERIFICATION_CHANNELS = ["sms"]
    settings.VERIFICATION_CODE_TTL = 300
    settings.VONAGE_CHANNEL_TIMEOUT = 300
    settings.VONAGE_TIMEOUT = 10
    return settings


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),
        ({"VONAGE_APPLICATION_ID": APPLICATION_ID, "VONAGE_PRIVATE_KEY": "/unused.key"}, []),
        ({"VONAGE_API_KEY": "", "VONAGE_API_SECRET": ""}, ["verification.E020"]),
        (
            {"VONAGE_API_KEY": "", "VONAGE_API_SECRET": "", "VONAGE_APPLICATION_ID": APPLICATION_ID},
            ["verification.E024"],
        ),
        ({"VONAGE_API_SECRET": ""}, ["verification.E023"]),
        ({"VERIFICATION_CODE_LENGTH": 4}, []),
        ({"VERIFICATION_CODE_LENGTH": 5}, ["verification.E025"]),
        ({"VERIFICATION_CODE_LENGTH": 8}, ["verification.E025"]),
        ({"VERIFICATION_BRAND": "x" * 18}, []),
        ({"VERIFICATION_BRAND": "x" * 19}, ["verification.E026"]),
        ({"VONAGE_CHANNEL_TIMEOUT": 60}, []),
        ({"VONAGE_CHANNEL_TIMEOUT": 30}, ["verification.E027"]),
        ({"VERIFICATION_CHANNELS": ["sms", "voice"]}, []),
        ({"VERIFICATION_CHANNELS": ["sms", "whatsapp"]}, ["verification.W021"]),
        # No channel at all is verification.checks' E039, not repeated here.
        ({"VERIFICATION_CHANNELS": ["whatsapp"]}, []),
    ],
)
def test_checks_report_each_problem_with_its_id_and_a_hint(legacy_settings, overrides, expected):
    for name, value in overrides.items():
        setattr(legacy_settings, name, value)

    messages = VonageLegacyVerifyBackend.check_configuration()

    assert sorted(str(message.id) for message in messages) == expected
    assert all(message.hint for message in messages)


def test_legacy_selected_with_application_credentials_only_is_named_as_such(legacy_settings):
    use_application(legacy_settings, LEGACY_BACKEND)

    (message,) = VonageLegacyVerifyBackend.check_configuration()

    assert message.id == "verification.E024"
    assert "VONAGE_API_KEY" in str(message.hint)
    assert "VonageVerifyBackend" in str(message.hint)
