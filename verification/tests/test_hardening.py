"""Production hardening: protected pages never cached, `next` without dot segments, costly destinations, charsets."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.exceptions import BadRequest
from django.test import AsyncClient, Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from verification import flow
from verification.exceptions import NumberRefused
from verification.models import VerifiedNumber
from verification.redirects import browser_resolved_path, is_safe_next
from verification.testing import latest_code, outbox, verify_client
from verification.tests import test_decorators
from verification.tests.helpers_enforcement import verified_client

SEND = reverse("verification:send")
CONFIRM = reverse("verification:confirm")
LANDLINE = "+442079460123"
NORTH_AMERICAN = "+12025550123"
VOIP = "+445600123456"
SATELLITE = "+881612345678"
INTERNATIONAL_NETWORK = "+883510012345"


# -- protected pages are never cached ---------------------------------------------------------------------------


# The decorator tests' URLconf, with and without VerificationRequiredMiddleware.
enforcement_urls = test_decorators.urls


@pytest.mark.parametrize("path", ["/decorated/", "/decorated-async/", "/mixin/", "/mixin-async/"])
def test_a_view_protected_by_a_decorator_or_a_mixin_is_never_cached(client, enforcement_urls, db, path):
    verified_client(client)

    response = client.get(path)

    assert response.status_code == 200
    assert set(response["Cache-Control"].replace(" ", "").split(",")) >= {"private", "no-store"}


def test_a_page_protected_by_a_rule_is_never_cached_and_an_open_one_is_left_alone(client, db):
    user = get_user_model().objects.create_user("alice")
    client.force_login(user)
    verify_client(client)

    protected = client.get("/shop/1/")
    public = client.get("/")

    assert protected.status_code == 200
    assert protected["Cache-Control"] == "private, no-store"
    assert "Cache-Control" not in public


def test_an_async_stack_marks_a_protected_page_too(settings, db):
    user = get_user_model().objects.create_user("alice")
    client = AsyncClient()
    client.force_login(user)
    verify_client(client)

    async def get() -> Any:
        return await client.get("/shop/1/")

    response = async_to_sync(get)()

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_a_cache_header_the_view_set_gives_way(client, settings, db):
    # A view that says "public, max-age=600" on a protected page would let a shared cache keep it.
    settings.ROOT_URLCONF = "verification.tests.hardening_urls"
    settings.VERIFICATION_REQUIRED_URLS = ["cached"]
    user = get_user_model().objects.create_user("alice")
    client.force_login(user)
    verify_client(client)

    directives = set(client.get("/cached/")["Cache-Control"].replace(" ", "").split(","))

    assert {"private", "no-store"} <= directives
    assert "public" not in directives


# -- next: no dot segments, raw or encoded ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "/.//evil.com",
        "/..//evil.com",
        "/%2e//evil.com",
        "/%2E%2E//evil.com",
        "/.%2e//evil.com",
        "/shop/./1/",
        "/shop/1/..",
        "/shop/%2e%2e/account/",
        "/shop/%252e/1/",
        "/shop/%EF%BC%8E/1/",
    ],
)
def test_next_with_dot_segments_is_refused(value):
    assert not is_safe_next(value)


@pytest.mark.parametrize("value", ["/shop/1/", "/shop/1/?next=/../x", "/a.b/c/", "/..hidden/", "/x/...", "/v1.2/"])
def test_dots_that_are_not_segments_pass(value):
    assert is_safe_next(value)


@pytest.mark.parametrize(
    ("path", "resolved"),
    [("/.//evil.com", "//evil.com"), ("/a/%2E%2e/b", "/b"), ("/a/./b/.", "/a/b/"), ("/a/b/..", "/a/"), ("/..", "/")],
)
def test_the_browser_resolution_is_the_url_standards(path, resolved):
    assert browser_resolved_path(path) == resolved


@given(st.text(alphabet="/.%2eEab", max_size=24).map(lambda text: "/" + text))
def test_every_next_that_passes_is_the_path_a_browser_goes_to(path):
    if is_safe_next(path):
        assert browser_resolved_path(path) == path


def test_the_confirm_page_never_follows_a_next_with_dot_segments(client, db, settings):
    settings.LOGIN_REDIRECT_URL = "/"
    user = get_user_model().objects.create_user("alice")
    client.force_login(user)
    client.post(SEND, {"number": "+447400123456"})

    response = client.post(CONFIRM, {"code": latest_code(), "next": "/.//evil.com"})

    assert response.status_code == 302
    assert response["Location"] == "/"


# -- costly or undeliverable destinations -----------------------------------------------------------------------


@pytest.fixture
def alice(client, db):
    user = get_user_model().objects.create_user("alice")
    client.force_login(user)
    return user, client


def test_a_text_to_a_landline_is_refused_with_its_own_message(alice):
    _, client = alice

    response = client.post(SEND, {"number": LANDLINE})

    assert response.status_code == 400
    assert "This is a landline, which cannot receive texts. Enter a mobile number." in response.content.decode()
    assert outbox() == []


def test_a_landline_may_get_a_call_where_calls_are_offered(alice, settings):
    settings.VERIFICATION_CHANNELS = ["sms", "voice"]
    _, client = alice

    refused = client.post(SEND, {"number": LANDLINE, "channel": "sms"})
    called = client.post(SEND, {"number": LANDLINE, "channel": "voice"})

    assert "Enter a mobile number, or choose a call." in refused.content.decode()
    assert called.status_code == 302
    assert [(message.number, message.channel) for message in outbox()] == [(LANDLINE, "voice")]


def test_north_american_numbers_which_may_be_mobiles_are_accepted(alice):
    user, _ = alice
    assert flow.start_verification(user, NORTH_AMERICAN).number == NORTH_AMERICAN


@pytest.mark.parametrize(
    ("number", "allowing", "reason"),
    [
        (VOIP, ["VERIFICATION_ALLOW_VOIP"], "voip"),
        (SATELLITE, ["VERIFICATION_ALLOW_INTERNATIONAL_NETWORKS"], "international_network"),
        # +883 numbers are VoIP numbers too: both settings must allow them.
        (
            INTERNATIONAL_NETWORK,
            ["VERIFICATION_ALLOW_INTERNATIONAL_NETWORKS", "VERIFICATION_ALLOW_VOIP"],
            "international_network",
        ),
    ],
)
def test_voip_and_international_networks_are_refused_unless_allowed(alice, settings, number, allowing, reason):
    user, _ = alice
    with pytest.raises(NumberRefused) as caught:
        flow.start_verification(user, number)
    assert caught.value.reason == reason
    assert outbox() == []

    for setting in allowing:
        setattr(settings, setting, True)

    assert flow.start_verification(user, number).number == number


@pytest.mark.parametrize("number", [LANDLINE, VOIP, SATELLITE])
def test_a_number_on_file_that_the_rules_now_refuse_keeps_working_for_its_owner(alice, number):
    user, client = alice
    VerifiedNumber.objects.create(user=user, number=number)

    flow.start_verification(user, number)
    response = client.post(CONFIRM, {"code": latest_code()})

    assert response.status_code == 302
    assert [message.number for message in outbox()] == [number]


def test_the_database_check_lists_the_numbers_on_file_the_rules_now_refuse(db, settings):
    users = get_user_model().objects
    kept = {"landline": LANDLINE, "voip": VOIP, "mobile": "+447400123456", "american": NORTH_AMERICAN}
    for name, number in kept.items():
        VerifiedNumber.objects.create(user=users.create_user(name), number=number)

    messages = [message for message in run_checks(databases=["default"]) if message.id == "verification.W012"]
    without_database = [message.id for message in run_checks()]

    assert len(messages) == 1
    text = messages[0].msg
    assert text.startswith("2 verified number(s)")
    assert "+44 •••• ••0123 (fixed_line)" in text
    assert "(voip)" in text
    assert LANDLINE not in text
    assert VOIP not in text
    assert "verification.W012" not in without_database
    settings.VERIFICATION_ALLOW_VOIP = True
    (remaining,) = [message for message in run_checks(databases=["default"]) if message.id == "verification.W012"]
    assert remaining.msg.startswith("1 verified number(s)")


# -- a form in another charset than UTF-8 -----------------------------------------------------------------------


def utf16_login(client: Client) -> Any:
    client.cookies["csrftoken"] = "x" * 32
    body = "username=alice&password=secret".encode("utf-16")
    return client.generic("POST", "/login/", body, content_type="application/x-www-form-urlencoded; charset=utf-16")


@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "UTF8"])
def test_a_form_in_another_charset_is_a_400_not_a_500(db, charset):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies["csrftoken"] = "x" * 32

    response = client.generic(
        "POST", "/login/", b"username=alice", content_type=f"application/x-www-form-urlencoded; charset={charset}"
    )

    assert response.status_code == 400
    assert response.content == b"A form must be sent in UTF-8.\n"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded; charset=UTF-8", "application/json"])
def test_utf8_forms_and_other_bodies_pass(db, content_type):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies["csrftoken"] = "x" * 32

    response = client.generic("POST", "/login/", b"username=alice", content_type=content_type)

    assert response.status_code == 403  # CSRF's own answer: the body was readable.


def test_without_the_middleware_django_fails_in_its_own_error_handling(db, settings):
    # Django's fault this middleware covers (5.2, 6.1): if this starts failing, Django fixed it upstream.
    settings.MIDDLEWARE = [entry for entry in settings.MIDDLEWARE if "form_charset" not in entry]
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)

    # Django's error handling raises in its turn: no response at all, the WSGI server answers a bare 500.
    with pytest.raises(BadRequest):
        utf16_login(client)


def test_an_async_stack_refuses_it_too(db):
    client = AsyncClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies["csrftoken"] = "x" * 32

    async def post() -> Any:
        return await client.generic(
            "POST", "/login/", b"username=alice", content_type="application/x-www-form-urlencoded; charset=utf-16"
        )

    response = async_to_sync(post)()

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("middleware", "warned"),
    [
        (["verification.form_charset.FormCharsetMiddleware", "django.middleware.csrf.CsrfViewMiddleware"], False),
        (["django.middleware.csrf.CsrfViewMiddleware", "verification.form_charset.FormCharsetMiddleware"], True),
        (["django.middleware.csrf.CsrfViewMiddleware"], True),
        ([], False),
    ],
)
def test_w011_warns_when_the_middleware_is_missing_or_after_csrf(settings, middleware, warned):
    base = ["django.contrib.sessions.middleware.SessionMiddleware"]
    settings.MIDDLEWARE = base + middleware + ["django.contrib.auth.middleware.AuthenticationMiddleware"]
    settings.VERIFICATION_REQUIRED_URLS = []

    ids = [message.id for message in run_checks(tags=["verification"])]

    assert ("verification.W011" in ids) is warned
