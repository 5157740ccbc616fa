"""The Vonage Verify v2 backend on the real SDK, HTTP faked at the transport; what both Vonage backends share."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import jwt
import pytest
import requests
import responses
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from vonage import Auth, Vonage
from vonage_verify import SmsChannel, VerifyRequest

from verification.backends.base import get_backend
from verification.backends.vonage import (
    LEGACY_LOCALES,
    V2_LOCALES,
    VonageLegacyVerifyBackend,
    VonageVerifyBackend,
    vonage_locale,
)
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
    LEGACY_REQUEST_ID,
    LEGACY_START_URL,
    MASKED,
    NUMBER,
    V2_BACKEND,
    V2_REQUEST_ID,
    V2_URL,
    dropped_connection,
    form,
    private_pem,
    problem,
    public_pem,
    use_application,
    use_key_pair,
)

CHECK_URL = f"{V2_URL}/{V2_REQUEST_ID}"


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Fake the HTTP transport; a request nobody registered fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def backend(settings) -> VonageVerifyBackend:
    use_key_pair(settings, V2_BACKEND)
    return VonageVerifyBackend()


def started(http: responses.RequestsMock) -> None:
    http.add(responses.POST, V2_URL, json={"request_id": V2_REQUEST_ID}, status=202)


def sent_json(http: responses.RequestsMock, index: int = 0) -> dict:
    body = http.calls[index].request.body
    assert body is not None
    return json.loads(body)


def authorization(http: responses.RequestsMock, index: int = 0) -> str:
    value = http.calls[index].request.headers["Authorization"]
    return value.decode() if isinstance(value, bytes) else value


# --- what a start sends -------------------------------------------------------------------------------


def test_get_backend_instantiates_the_v2_backend(settings):
    use_key_pair(settings, V2_BACKEND)
    assert isinstance(get_backend(), VonageVerifyBackend)


def test_start_posts_the_v2_request_with_basic_auth(backend, http, settings):
    settings.VERIFICATION_BRAND = "Pollstr"
    settings.VERIFICATION_CODE_LENGTH = 6
    settings.VONAGE_CHANNEL_TIMEOUT = 300
    started(http)

    request_id = backend.start(NUMBER, channel="sms", locale="en-gb")

    assert request_id == V2_REQUEST_ID
    assert len(http.calls) == 1
    call = http.calls[0]
    assert call.request.method == "POST"
    assert call.request.url == V2_URL
    expected = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert authorization(http) == f"Basic {expected}"
    assert sent_json(http) == {
        "brand": "Pollstr",
        "workflow": [{"channel": "sms", "to": DIGITS}],
        "locale": "en-gb",
        "channel_timeout": 300,
        "code_length": 6,
    }
    assert call.request.req_kwargs["timeout"] == 10


def test_start_sends_the_configured_brand_code_length_and_channel_timeout(backend, http, settings):
    settings.VERIFICATION_BRAND = "Acme Polls"
    settings.VERIFICATION_CODE_LENGTH = 8
    settings.VONAGE_CHANNEL_TIMEOUT = 120
    started(http)

    backend.start(NUMBER)

    body = sent_json(http)
    assert (body["brand"], body["code_length"], body["channel_timeout"]) == ("Acme Polls", 8, 120)
    assert "locale" not in body


def test_start_authenticates_with_a_jwt_when_an_application_is_configured(settings, http):
    use_application(settings)
    started(http)

    VonageVerifyBackend().start(NUMBER)

    scheme, token = authorization(http).split(" ", 1)
    assert scheme == "Bearer"
    claims = jwt.decode(token, public_pem(), algorithms=["RS256"])
    assert claims["application_id"] == APPLICATION_ID


def test_the_application_wins_over_a_key_pair_when_both_are_set(settings, http):
    use_application(settings)
    settings.VONAGE_API_KEY = API_KEY
    settings.VONAGE_API_SECRET = API_SECRET
    started(http)

    VonageVerifyBackend().start(NUMBER)

    assert authorization(http).startswith("Bearer ")


@pytest.mark.parametrize(
    "form_of_key",
    ["pkcs8", "pkcs1", "one line with \\n", "file"],
)
def test_the_private_key_may_be_a_file_or_pem_text_in_either_rsa_format(settings, http, tmp_path, form_of_key):
    pem = {
        "pkcs8": private_pem(),
        "pkcs1": private_pem(serialization.PrivateFormat.TraditionalOpenSSL),
        "one line with \\n": private_pem().replace("\n", "\\n"),
        "file": private_pem(),
    }[form_of_key]
    if form_of_key == "file":
        path = tmp_path / "private.key"
        path.write_text(pem)
        pem = str(path)
    use_application(settings, private_key=pem)
    started(http)

    VonageVerifyBackend().start(NUMBER)

    token = authorization(http).split(" ", 1)[1]
    assert jwt.decode(token, public_pem(), algorithms=["RS256"])["application_id"] == APPLICATION_ID


def test_an_unusable_private_key_is_misconfigured_before_any_request(settings, http):
    use_application(settings, private_key="/nonexistent/private.key")

    with pytest.raises(Misconfigured):
        VonageVerifyBackend().start(NUMBER)

    assert len(http.calls) == 0


def test_no_credentials_is_misconfigured_before_any_request(settings, http):
    use_key_pair(settings, V2_BACKEND)
    settings.VONAGE_API_KEY = ""
    settings.VONAGE_API_SECRET = ""

    with pytest.raises(Misconfigured):
        VonageVerifyBackend().start(NUMBER)

    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("channel", "step"),
    [
        ("sms", {"channel": "sms", "to": DIGITS}),
        ("voice", {"channel": "voice", "to": DIGITS}),
        ("whatsapp", {"channel": "whatsapp", "to": DIGITS, "from": "447700400080"}),
    ],
)
def test_start_sends_the_chosen_channel(backend, http, settings, channel, step):
    settings.VONAGE_WHATSAPP_FROM = "447700400080"
    started(http)

    backend.start(NUMBER, channel=channel)

    assert sent_json(http)["workflow"] == [step]


@pytest.mark.parametrize(
    ("channel", "sender"),
    [("whatsapp", ""), ("whatsapp", "+447700400080"), ("whatsapp", "Pollstr Ltd"), ("email", ""), ("pigeon", "")],
)
def test_a_channel_that_cannot_be_sent_is_misconfigured_before_any_request(backend, http, settings, channel, sender):
    settings.VONAGE_WHATSAPP_FROM = sender

    with pytest.raises(Misconfigured):
        backend.start(NUMBER, channel=channel)

    assert len(http.calls) == 0


@pytest.mark.parametrize("number", ["+0447700900123", "+44770", "447700900123x", "+1234567890123456", ""])
def test_a_number_that_is_not_e164_is_refused_before_any_request(backend, http, number):
    with pytest.raises(InvalidNumber):
        backend.start(number)

    assert len(http.calls) == 0


def test_a_brand_the_sdk_refuses_is_misconfigured_before_any_request(backend, http, settings):
    settings.VERIFICATION_BRAND = "A brand far too long for Vonage"

    with pytest.raises(Misconfigured) as caught:
        backend.start(NUMBER)

    assert DIGITS not in str(caught.value)
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("language", "sent"),
    [("en-gb", "en-gb"), ("en", "en-us"), ("fr", "fr-fr"), ("pt-br", "pt-br"), ("es-ar", "es-es"), ("ja", None)],
)
def test_start_sends_the_closest_locale_vonage_supports(backend, http, language, sent):
    started(http)

    backend.start(NUMBER, locale=language)

    assert sent_json(http).get("locale") == sent


@pytest.mark.parametrize(
    ("language", "v2", "legacy"),
    [
        (None, None, None),
        ("", None, None),
        ("en-us", "en-us", "en-us"),
        ("EN_GB", "en-gb", "en-gb"),
        ("en-au", "en-us", "en-au"),
        ("de", "de-de", "de-de"),
        ("pt", "pt-pt", "pt-pt"),
        ("hi", "hi-in", "hi-in"),
        ("zh-hans", None, "zh-cn"),
        ("zh-hant", None, "zh-tw"),
        ("nb", None, "nb-no"),
        ("sv", None, "sv-se"),
        ("ja", None, "ja-jp"),
        ("xx", None, None),
    ],
)
def test_vonage_locale_maps_django_language_codes(language, v2, legacy):
    assert vonage_locale(language, V2_LOCALES) == v2
    assert vonage_locale(language, LEGACY_LOCALES) == legacy


# --- start outcomes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (problem(401, "Unauthorized"), Misconfigured),
        (problem(403, "Forbidden"), Misconfigured),
        (problem(402, "Low balance"), ProviderUnavailable),
        (problem(404, "Not Found"), ProviderUnavailable),
        (problem(412, "Network not supported"), ProviderUnavailable),
        (problem(422, "Invalid params", invalid_parameters=[{"name": "to", "reason": "Invalid"}]), InvalidNumber),
        (problem(422, "Invalid params"), InvalidNumber),
        (problem(422, "Invalid params", invalid_parameters=[{"name": "brand", "reason": "Invalid"}]), Misconfigured),
        (problem(429, "Rate Limit Hit"), ProviderThrottled),
        (problem(500, "Internal error"), ProviderUnavailable),
        (problem(502, "Bad gateway"), ProviderUnavailable),
        ({"status": 503, "body": "<html>down</html>"}, ProviderUnavailable),
        ({"status": 202, "body": "not json"}, ProviderUnavailable),
        ({"status": 202, "json": {"unexpected": True}}, ProviderUnavailable),
    ],
)
def test_start_failures_become_the_apps_exceptions(backend, http, answer, error):
    http.add(responses.POST, V2_URL, **answer)

    with pytest.raises(error):
        backend.start(NUMBER)

    assert len(http.calls) == 1


def test_a_concurrent_verification_is_reported_with_the_active_request_when_named(backend, http):
    http.add(responses.POST, V2_URL, **problem(409, "Conflict", request_id=V2_REQUEST_ID))

    with pytest.raises(ConcurrentVerification) as caught:
        backend.start(NUMBER)

    assert caught.value.provider_request_id == V2_REQUEST_ID


def test_a_concurrent_verification_as_documented_names_no_request(backend, http):
    detail = "Concurrent verifications to the same number are not allowed."
    http.add(responses.POST, V2_URL, **problem(409, "Conflict", detail))

    with pytest.raises(ConcurrentVerification) as caught:
        backend.start(NUMBER)

    assert caught.value.provider_request_id is None


def test_throttling_carries_retry_after_in_seconds(backend, http):
    http.add(responses.POST, V2_URL, headers={"Retry-After": "30"}, **problem(429, "Rate Limit Hit"))

    with pytest.raises(ProviderThrottled) as caught:
        backend.start(NUMBER)

    assert caught.value.retry_after == 30


@time_machine.travel(datetime(2026, 1, 1, 12, 0, tzinfo=UTC), tick=False)
def test_throttling_reads_retry_after_given_as_a_date(backend, http):
    when = format_datetime(datetime(2026, 1, 1, 12, 2, tzinfo=UTC), usegmt=True)
    http.add(responses.POST, V2_URL, headers={"Retry-After": when}, **problem(429, "Rate Limit Hit"))

    with pytest.raises(ProviderThrottled) as caught:
        backend.start(NUMBER)

    assert caught.value.retry_after == 120


@pytest.mark.parametrize("header", [{}, {"Retry-After": "soon"}])
def test_throttling_without_a_usable_retry_after_leaves_it_unknown(backend, http, header):
    http.add(responses.POST, V2_URL, headers=header, **problem(429, "Rate Limit Hit"))

    with pytest.raises(ProviderThrottled) as caught:
        backend.start(NUMBER)

    assert caught.value.retry_after is None


# --- network failures: exactly one request, never a silent re-send -----------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        dropped_connection(),
        requests.exceptions.ConnectionError("Failed to resolve 'api.nexmo.com' (Name or service not known)"),
        requests.exceptions.ConnectionError("[Errno 104] Connection reset by peer"),
        requests.exceptions.ReadTimeout("Read timed out. (read timeout=10)"),
        requests.exceptions.ConnectTimeout("Connection to api.nexmo.com timed out. (connect timeout=10)"),
    ],
    ids=["dropped", "dns", "reset", "read-timeout", "connect-timeout"],
)
def test_a_network_failure_during_start_is_unavailable_after_exactly_one_request(backend, http, failure):
    http.add(responses.POST, V2_URL, body=failure)
    started(http)  # what a silent re-send would reach

    with pytest.raises(ProviderUnavailable):
        backend.start(NUMBER)

    assert len(http.calls) == 1


def test_a_dropped_connection_during_check_is_not_retried(backend, http):
    http.add(responses.POST, CHECK_URL, body=dropped_connection())
    http.add(responses.POST, CHECK_URL, json={"request_id": V2_REQUEST_ID, "status": "completed"})

    with pytest.raises(ProviderUnavailable):
        backend.check(V2_REQUEST_ID, "123456")

    assert len(http.calls) == 1


def test_the_stock_sdk_would_resend_a_dropped_start_ten_times(http):
    """The pitfall the backend's client options remove: one click, ten SMS."""
    client = Vonage(Auth(api_key=API_KEY, api_secret=API_SECRET))
    http.add(responses.POST, V2_URL, body=dropped_connection())

    with pytest.raises(requests.exceptions.ConnectionError):
        client.verify.start_verification(VerifyRequest(brand="Pollstr", workflow=[SmsChannel(to=DIGITS)]))

    assert len(http.calls) == 10


def test_the_client_has_no_transport_retries_and_a_timeout(backend):
    http_client = backend.client.http_client
    adapter = http_client._session.get_adapter("https://api.nexmo.com/v2/verify")

    assert adapter.max_retries.total == 0
    assert http_client.http_client_options.timeout == 10


def test_a_fractional_timeout_is_rounded_up_to_whole_seconds(backend, http, settings):
    settings.VONAGE_TIMEOUT = 2.5
    started(http)

    backend.start(NUMBER)

    assert http.calls[0].request.req_kwargs["timeout"] == 3


@pytest.mark.parametrize("timeout", [0, -1, "10", None])
def test_an_unusable_timeout_is_misconfigured(backend, http, settings, timeout):
    settings.VONAGE_TIMEOUT = timeout

    with pytest.raises(Misconfigured):
        backend.start(NUMBER)

    assert len(http.calls) == 0


# --- check ------------------------------------------------------------------------------------------------


def test_check_posts_the_code_to_the_request_and_returns_on_success(backend, http):
    http.add(responses.POST, CHECK_URL, json={"request_id": V2_REQUEST_ID, "status": "completed"})

    assert backend.check(V2_REQUEST_ID, "123456") is None

    assert http.calls[0].request.url == CHECK_URL
    assert sent_json(http) == {"code": "123456"}
    assert http.calls[0].request.req_kwargs["timeout"] == 10


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (problem(400, "Invalid Code", "The code you provided does not match the expected value."), InvalidCode),
        (problem(404, "Not Found", "Request was not found or it has been verified already."), CodeExpired),
        (problem(409, "Conflict", "The current Verify workflow step does not support a code."), CodeExpired),
        (
            problem(410, "Invalid Code", "An incorrect code has been provided too many times. Workflow terminated."),
            TooManyAttempts,
        ),
        (problem(410, "Gone", "The verification request has expired."), CodeExpired),
        (problem(401, "Unauthorized"), Misconfigured),
        (problem(403, "Forbidden"), Misconfigured),
        (problem(429, "Rate Limit Hit"), ProviderThrottled),
        (problem(500, "Internal error"), ProviderUnavailable),
        (problem(504, "Gateway timeout"), ProviderUnavailable),
        ({"status": 200, "json": {"request_id": V2_REQUEST_ID, "status": "failed"}}, ProviderUnavailable),
        ({"status": 200, "body": "not json"}, ProviderUnavailable),
    ],
)
def test_check_failures_become_the_apps_exceptions(backend, http, answer, error):
    http.add(responses.POST, CHECK_URL, **answer)

    with pytest.raises(error) as caught:
        backend.check(V2_REQUEST_ID, "123456")

    assert caught.value.provider_request_id == V2_REQUEST_ID


@pytest.mark.parametrize("failure", [requests.exceptions.ReadTimeout(), requests.exceptions.ConnectionError()])
def test_check_network_failures_are_unavailable(backend, http, failure):
    http.add(responses.POST, CHECK_URL, body=failure)

    with pytest.raises(ProviderUnavailable):
        backend.check(V2_REQUEST_ID, "123456")


@pytest.mark.parametrize("request_id", ["../templates", "a b", "", "x" * 65])
def test_a_malformed_request_id_is_expired_without_a_request(backend, http, request_id):
    with pytest.raises(CodeExpired):
        backend.check(request_id, "123456")

    backend.cancel(request_id)  # ignored: nothing to cancel
    assert len(http.calls) == 0


# --- cancel -----------------------------------------------------------------------------------------------


def test_cancel_deletes_the_request(backend, http):
    http.add(responses.DELETE, CHECK_URL, status=204)

    assert backend.cancel(V2_REQUEST_ID) is None

    assert http.calls[0].request.method == "DELETE"
    assert http.calls[0].request.url == CHECK_URL


@pytest.mark.parametrize("status", [404, 410])
def test_cancel_ignores_unknown_or_finished_requests(backend, http, status):
    http.add(responses.DELETE, CHECK_URL, **problem(status, "Not Found"))

    backend.cancel(V2_REQUEST_ID)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (problem(409, "Conflict"), ConcurrentVerification),
        (problem(401, "Unauthorized"), Misconfigured),
        (problem(429, "Rate Limit Hit"), ProviderThrottled),
        (problem(500, "Internal error"), ProviderUnavailable),
        ({"body": requests.exceptions.ReadTimeout()}, ProviderUnavailable),
    ],
)
def test_cancel_failures_become_the_apps_exceptions(backend, http, answer, error):
    http.add(responses.DELETE, CHECK_URL, **answer)

    with pytest.raises(error) as caught:
        backend.cancel(V2_REQUEST_ID)

    assert caught.value.provider_request_id == V2_REQUEST_ID


# --- one client per API and per thread, reused ---------------------------------------------------------


def test_consecutive_calls_in_a_thread_share_one_client_and_its_connection_pool(settings, http):
    use_key_pair(settings, V2_BACKEND)
    started(http)
    started(http)
    first, second = VonageVerifyBackend(), VonageVerifyBackend()

    client = first.client
    first.start(NUMBER)
    second.start(NUMBER)

    assert second.client is client
    assert second.client.http_client is client.http_client
    assert len(http.calls) == 2


def test_new_settings_give_a_new_client(settings):
    use_key_pair(settings, V2_BACKEND)
    before = VonageVerifyBackend().client

    settings.VONAGE_TIMEOUT = 5

    after = VonageVerifyBackend().client
    assert after is not before
    assert after.http_client.http_client_options.timeout == 5


def test_threads_never_share_a_client(settings):
    use_key_pair(settings, V2_BACKEND)
    here = VonageVerifyBackend().client
    seen: dict[str, tuple[object, object]] = {}
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        barrier.wait()  # both threads alive at once, so they cannot be the same thread reused
        seen[name] = (VonageVerifyBackend().client, VonageVerifyBackend().client)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen["a"][0] is seen["a"][1]
    assert seen["b"][0] is seen["b"][1]
    assert len({id(here), id(seen["a"][0]), id(seen["b"][0])}) == 3


def test_v2_and_legacy_use_separate_clients_so_headers_do_not_leak(settings, http):
    use_application(settings)
    settings.VONAGE_API_KEY = API_KEY
    settings.VONAGE_API_SECRET = API_SECRET
    started(http)
    http.add(responses.POST, LEGACY_START_URL, json={"request_id": LEGACY_REQUEST_ID, "status": "0"})

    VonageVerifyBackend().start(NUMBER)
    VonageLegacyVerifyBackend().start(NUMBER)

    assert VonageVerifyBackend().client is not VonageLegacyVerifyBackend().client
    assert authorization(http, 0).startswith("Bearer ")
    assert authorization(http, 1).startswith("Basic ")
    assert http.calls[1].request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(http.calls[1].request.body)["number"] == DIGITS


# --- logs ---------------------------------------------------------------------------------------------------


def test_nothing_sensitive_is_logged_even_with_the_sdk_logger_at_debug(backend, http, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="vonage")
    started(http)
    http.add(responses.POST, CHECK_URL, **problem(400, "Invalid Code"))
    http.add(
        responses.POST,
        V2_URL,
        **problem(422, "Invalid params", invalid_parameters=[{"name": "to", "reason": f"{DIGITS} is not mobile"}]),
    )
    http.add(responses.POST, V2_URL, body=requests.exceptions.ReadTimeout())

    backend.start(NUMBER)
    with pytest.raises(InvalidCode):
        backend.check(V2_REQUEST_ID, "987654")
    with pytest.raises(InvalidNumber):
        backend.start(NUMBER)
    with pytest.raises(ProviderUnavailable):
        backend.start(NUMBER)

    logged = caplog.text
    assert "Http Response Error" in logged  # the SDK's warnings still arrive, masked
    assert MASKED in logged
    basic = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    for secret in (DIGITS, DIGITS[-9:], "987654", API_SECRET, basic):
        assert secret not in logged


def test_an_unknown_failure_is_logged_with_the_request_id_and_the_masked_number(backend, http, caplog):
    http.add(responses.POST, V2_URL, **problem(500, "Internal error"))
    http.add(responses.POST, CHECK_URL, **problem(503, "Unavailable"))

    with pytest.raises(ProviderUnavailable):
        backend.start(NUMBER)
    with pytest.raises(ProviderUnavailable):
        backend.check(V2_REQUEST_ID, "123456")

    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert any(MASKED in message and "HTTP 500" in message for message in errors)
    assert any(V2_REQUEST_ID in message and "HTTP 503" in message for message in errors)


# --- system checks ------------------------------------------------------------------------------------------


def ids(messages) -> list[str]:
    return sorted(message.id for message in messages)


@pytest.fixture
def v2_settings(settings):
    use_key_pair(settings, V2_BACKEND)
    settings.VERIFICATION_CODE_LENGTH = 6
    settings.VERIFICATION_BRAND = "Pollstr"
    settings.VERIFICATION_CHANNELS = ["sms"]
    settings.VERIFICATION_CODE_TTL = 300
    settings.VONAGE_CHANNEL_TIMEOUT = 300
    settings.VONAGE_TIMEOUT = 10
    settings.VONAGE_WHATSAPP_FROM = ""
    return settings


def test_a_complete_configuration_passes_the_checks(v2_settings):
    assert VonageVerifyBackend.check_configuration() == []
    use_application(v2_settings)
    assert VonageVerifyBackend.check_configuration() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"VONAGE_API_KEY": "", "VONAGE_API_SECRET": ""}, ["verification.E020"]),
        ({"VONAGE_API_SECRET": ""}, ["verification.E023"]),
        ({"VONAGE_API_KEY": ""}, ["verification.E023"]),
        ({"VONAGE_APPLICATION_ID": APPLICATION_ID}, ["verification.E023"]),
        ({"VERIFICATION_CODE_LENGTH": 4}, []),
        ({"VERIFICATION_CODE_LENGTH": 10}, []),
        ({"VERIFICATION_BRAND": "x" * 16}, []),
        ({"VERIFICATION_BRAND": "x" * 17}, ["verification.E026"]),
        ({"VERIFICATION_BRAND": "Polls{1}"}, ["verification.E026"]),
        ({"VERIFICATION_BRAND": "a/b"}, ["verification.E026"]),
        ({"VONAGE_CHANNEL_TIMEOUT": 15}, []),
        ({"VONAGE_CHANNEL_TIMEOUT": 14}, ["verification.E027"]),
        ({"VONAGE_CHANNEL_TIMEOUT": 901}, ["verification.E027"]),
        ({"VONAGE_CHANNEL_TIMEOUT": "300"}, ["verification.E027"]),
        ({"VERIFICATION_CODE_TTL": 120}, ["verification.W020"]),
        ({"VERIFICATION_CHANNELS": ["sms", "whatsapp"]}, ["verification.E028"]),
        ({"VERIFICATION_CHANNELS": ["whatsapp"], "VONAGE_WHATSAPP_FROM": "+447700400080"}, ["verification.E028"]),
        ({"VERIFICATION_CHANNELS": ["sms", "voice", "whatsapp"], "VONAGE_WHATSAPP_FROM": "447700400080"}, []),
        ({"VERIFICATION_CHANNELS": ["whatsapp"], "VONAGE_WHATSAPP_FROM": "Pollstr"}, []),
        # What verification.checks reports for every backend is not repeated here (E013, E031, E034, E036).
        ({"VERIFICATION_CODE_LENGTH": 11}, []),
        ({"VERIFICATION_BRAND": ""}, []),
        ({"VERIFICATION_CHANNELS": ["sms", "email"]}, ["verification.W021"]),
        ({"VONAGE_TIMEOUT": 0}, []),
    ],
)
def test_checks_report_each_problem_with_its_id_and_a_hint(v2_settings, overrides, expected):
    for name, value in overrides.items():
        setattr(v2_settings, name, value)

    messages = VonageVerifyBackend.check_configuration()

    assert ids(messages) == expected
    assert all(message.hint for message in messages)


def test_checks_report_an_unreadable_private_key(v2_settings, tmp_path):
    use_application(v2_settings, private_key=str(tmp_path / "missing.key"))

    assert ids(VonageVerifyBackend.check_configuration()) == ["verification.E021"]


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _encrypted_pem() -> str:
    from verification.tests.fake_vonage import rsa_key

    return (
        rsa_key()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        .decode()
    )


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
        _ec_pem,
        _encrypted_pem,
    ],
    ids=["garbage", "not-rsa", "encrypted"],
)
def test_checks_report_an_invalid_private_key(v2_settings, http, make_key):
    use_application(v2_settings, private_key=make_key())

    assert ids(VonageVerifyBackend.check_configuration()) == ["verification.E022"]
    with pytest.raises(Misconfigured):
        VonageVerifyBackend().start(NUMBER)
    assert len(http.calls) == 0


def test_checks_report_a_key_file_that_is_not_a_key(v2_settings, tmp_path):
    path = tmp_path / "private.key"
    path.write_text("hello")
    use_application(v2_settings, private_key=str(path))

    assert ids(VonageVerifyBackend.check_configuration()) == ["verification.E022"]


def test_a_past_retry_after_date_means_retry_now(backend, http):
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    http.add(responses.POST, V2_URL, headers={"Retry-After": past}, **problem(429, "Rate Limit Hit"))

    with pytest.raises(ProviderThrottled) as caught:
        backend.start(NUMBER)

    assert caught.value.retry_after == 0


def test_the_legacy_backend_is_selectable_too(settings):
    use_key_pair(settings, LEGACY_BACKEND)
    assert isinstance(get_backend(), VonageLegacyVerifyBackend)


def test_django_check_runs_the_backends_checks(v2_settings):
    v2_settings.VONAGE_API_KEY = ""
    v2_settings.VONAGE_API_SECRET = ""

    found = [message.id for message in run_checks()]

    assert "verification.E020" in found


def test_manage_py_check_fails_on_a_vonage_configuration_error(v2_settings):
    v2_settings.VONAGE_API_SECRET = ""

    with pytest.raises(SystemCheckError, match=r"verification\.E023"):
        call_command("check")
