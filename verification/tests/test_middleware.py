"""VerificationRequiredMiddleware through Django's whole stack: who passes, who is sent where, and at what cost."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from verification.enforcement import VerificationEnforcer
from verification.middleware import VerificationRequiredMiddleware
from verification.tests.helpers_enforcement import (
    PASSWORD,
    header_flags,
    make_user,
    mark_client_verified,
    use_enforcement_urls,
    verified_client,
    without_our_middleware,
)

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]
T0 = 1_750_000_000


@pytest.fixture
def urls(settings: Any) -> Any:
    use_enforcement_urls(settings, required=["^/account/", "polls:*", {"path": "^/account/settings/", "max_age": 60}])
    return settings


def next_of(response: Any) -> str:
    """The `next` parameter of the response's redirect target."""
    return parse_qs(urlsplit(response["Location"]).query)["next"][0]


def target_of(response: Any) -> str:
    return urlsplit(response["Location"]).path


# -- who passes -----------------------------------------------------------------------------------


def test_anonymous_users_go_to_login_with_the_full_path(client: Client, urls: Any, db: Any) -> None:
    response = client.get("/account/?tab=2&x=%2F")
    assert response.status_code == 302
    assert target_of(response) == "/login/"
    assert next_of(response) == "/account/?tab=2&x=%2F"


def test_unverified_users_go_to_the_phone_step_with_the_full_path(client: Client, urls: Any, db: Any) -> None:
    client.force_login(make_user())
    response = client.get("/polls/1/?page=3")
    assert response.status_code == 302
    assert target_of(response) == "/verify/"
    assert next_of(response) == "/polls/1/?page=3"
    assert "no-store" in response["Cache-Control"]


def test_verified_users_pass(client: Client, urls: Any, db: Any) -> None:
    verified_client(client)
    assert client.get("/account/").status_code == 200
    assert client.get("/polls/1/").status_code == 200


def test_unprotected_pages_pass_for_everyone(client: Client, urls: Any, db: Any) -> None:
    assert client.get("/probe/").status_code == 200
    client.force_login(make_user())
    assert client.get("/probe/").status_code == 200


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_is_protected(client: Client, urls: Any, db: Any, method: str) -> None:
    response = client.generic(method, "/account/")
    assert response.status_code == 302
    assert target_of(response) == "/login/"
    client.force_login(make_user())
    response = client.generic(method, "/account/")
    assert response.status_code == 302
    assert target_of(response) == "/verify/"


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_passes_once_verified(client: Client, urls: Any, db: Any, method: str) -> None:
    verified_client(client)
    assert client.generic(method, "/account/").status_code == 200


# -- max age --------------------------------------------------------------------------------------


def test_a_rule_max_age_asks_for_a_fresh_verification(client: Client, urls: Any, db: Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        verified_client(client)
        assert client.get("/account/settings/").status_code == 200
        traveller.shift(60)
        assert client.get("/account/settings/").status_code == 200
        traveller.shift(1)
        response = client.get("/account/settings/")
        assert response.status_code == 302
        assert target_of(response) == "/verify/"
        # The other protected pages have no max age: the verification still holds there.
        assert client.get("/account/").status_code == 200


def test_the_global_max_age_applies_to_rules_without_their_own(client: Client, urls: Any, db: Any) -> None:
    urls.VERIFICATION_MAX_AGE = 3600
    with time_machine.travel(T0, tick=False) as traveller:
        verified_client(client)
        traveller.shift(3600)
        assert client.get("/account/").status_code == 200
        traveller.shift(1)
        assert target_of(client.get("/account/")) == "/verify/"


def test_without_any_max_age_a_verification_lasts_as_long_as_the_session(client: Client, urls: Any, db: Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        verified_client(client)
        traveller.shift(13 * 24 * 3600)  # within SESSION_COOKIE_AGE (two weeks)
        assert client.get("/account/").status_code == 200


# -- JSON and htmx --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json"},
        {"Accept": "application/json, text/plain, */*"},
        {"Accept": "application/vnd.api+json"},
        {"Accept": "application/problem+json;q=0.9, text/html;q=0.5"},
        {"X-Requested-With": "XMLHttpRequest"},
    ],
)
def test_json_clients_get_401_naming_the_url_to_visit(client: Client, urls: Any, db: Any, headers: Any) -> None:
    client.force_login(make_user())
    response = client.get("/polls/1/?x=1", headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Verification")
    body = json.loads(response.content)
    assert body["error"] == "verification_required"
    assert body["detail"]
    assert urlsplit(body["url"]).path == "/verify/"
    assert parse_qs(urlsplit(body["url"]).query)["next"] == ["/polls/1/?x=1"]
    assert "Accept" in response["Vary"]


def test_a_json_body_gets_json_too(client: Client, urls: Any, db: Any) -> None:
    client.force_login(make_user())
    response = client.post("/account/", data="{}", content_type="application/json", headers={"Accept": "*/*"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "accept",
    [
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "*/*",
        "text/html, application/json;q=0.5",
        "",
    ],
)
def test_browsers_get_a_redirect(client: Client, urls: Any, db: Any, accept: str) -> None:
    client.force_login(make_user())
    response = client.get("/account/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 302


def test_anonymous_json_clients_get_401_naming_the_login_page(client: Client, urls: Any, db: Any) -> None:
    response = client.get("/account/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    body = json.loads(response.content)
    assert body["error"] == "login_required"
    assert urlsplit(body["url"]).path == "/login/"
    assert parse_qs(urlsplit(body["url"]).query)["next"] == ["/account/"]


def test_htmx_gets_a_2xx_with_hx_redirect(client: Client, urls: Any, db: Any) -> None:
    client.force_login(make_user())
    response = client.get("/polls/1/results/", headers={"HX-Request": "true", "Accept": "application/json"})
    # htmx ignores response headers on 3xx, so the redirect is a header on a 200.
    assert response.status_code == 200
    assert response.content == b""
    assert urlsplit(response["HX-Redirect"]).path == "/verify/"
    assert parse_qs(urlsplit(response["HX-Redirect"]).query)["next"] == ["/polls/1/results/"]
    assert "HX-Request" in response["Vary"]


def test_htmx_comes_back_to_the_page_in_the_browser(client: Client, urls: Any, db: Any) -> None:
    client.force_login(make_user())
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/polls/1/?tab=votes"}
    response = client.get("/polls/1/results/", headers=headers)
    assert parse_qs(urlsplit(response["HX-Redirect"]).query)["next"] == ["/polls/1/?tab=votes"]
    headers["HX-Current-URL"] = "https://evil.example/polls/1/"
    response = client.get("/polls/1/results/", headers=headers)
    assert parse_qs(urlsplit(response["HX-Redirect"]).query)["next"] == ["/polls/1/results/"]


def test_anonymous_htmx_goes_to_login(client: Client, urls: Any, db: Any) -> None:
    response = client.get("/account/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert urlsplit(response["HX-Redirect"]).path == "/login/"


# -- next for requests a redirect cannot replay -----------------------------------------------------


def test_a_post_comes_back_to_the_safe_page_it_came_from(client: Client, urls: Any, db: Any) -> None:
    client.force_login(make_user())
    response = client.post("/polls/1/vote/", {"choice": 1}, headers={"Referer": "http://testserver/polls/1/?a=b"})
    assert target_of(response) == "/verify/"
    assert next_of(response) == "/polls/1/?a=b"


@pytest.mark.parametrize(
    "referer",
    [
        None,
        "https://evil.example/polls/1/",
        "//evil.example/polls/1/",
        "http://testserver/verify/confirm/",
        "http://testserver/logout/",
        "javascript:alert(1)",
        "http://testserver\\@evil.example/",
    ],
)
def test_a_post_without_a_safe_referer_comes_back_to_its_path(
    client: Client, urls: Any, db: Any, referer: str | None
) -> None:
    client.force_login(make_user())
    headers = {"Referer": referer} if referer else {}
    response = client.post("/polls/1/vote/", {"choice": 1}, headers=headers)
    assert next_of(response) == "/polls/1/vote/"


def test_an_anonymous_post_goes_to_login_with_the_page_it_came_from(client: Client, urls: Any, db: Any) -> None:
    response = client.post("/polls/1/vote/", headers={"Referer": "http://testserver/polls/1/"})
    assert target_of(response) == "/login/"
    assert next_of(response) == "/polls/1/"


# -- spellings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/files/secret.txt",
        "/files//secret.txt",
        "/files/%73ecret.txt",
        "/files/%2573ecret.txt",
        "/files/./secret.txt",
        "/files/x/../secret.txt",
        "/files/x/%2E%2E/secret.txt",
        "/files/x/%252E%252E/secret.txt",
        "/files/x%2F..%2Fsecret.txt",
    ],
)
def test_spellings_that_reach_a_protected_view_never_get_through(client: Client, urls: Any, db: Any, path: str) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/files/secret"]
    client.force_login(make_user())
    response = client.get(path)
    assert response.status_code == 302, path
    assert target_of(response) == "/verify/"


def test_a_missing_trailing_slash_never_gets_through(client: Client, urls: Any, db: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/optional/$"]
    client.force_login(make_user())
    assert target_of(client.get("/optional")) == "/verify/"
    assert target_of(client.get("/optional/")) == "/verify/"


def test_an_unresolved_path_is_a_plain_404_and_a_missing_slash_redirects_first(
    client: Client, urls: Any, db: Any
) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/"]
    client.force_login(make_user())
    assert client.get("/no/such/page/").status_code == 404
    # CommonMiddleware's APPEND_SLASH sends /account to /account/, which is then protected.
    response = client.get("/account")
    assert response.status_code == 301
    assert target_of(client.get(response["Location"])) == "/verify/"


# -- exemptions and loops -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/verify/", "/verify/send/", "/verify/confirm/", "/verify/resend/", "/verify/cancel/", "/login/", "/open/"],
)
def test_exempt_pages_are_untouched_even_under_a_catch_all(client: Client, urls: Any, db: Any, path: str) -> None:
    urls.VERIFICATION_REQUIRED_URLS = [r"^/"]
    client.force_login(make_user())
    response = client.get(path)
    assert response.status_code == 200
    assert header_flags(response) == ("False", "False")


def test_no_redirect_loop_under_a_catch_all(client: Client, urls: Any, db: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = [r"^/", "verification:*", "login"]
    response = client.get("/account/", follow=True)
    assert response.status_code == 200
    assert [url for url, _ in response.redirect_chain] == ["/login/?next=/account/"]
    client.force_login(make_user())
    response = client.get("/account/", follow=True)
    assert response.status_code == 200
    assert [url for url, _ in response.redirect_chain] == ["/verify/?next=/account/"]


def test_logout_is_always_possible(client: Client, urls: Any, db: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = [r"^/"]
    client.force_login(make_user())
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/probe/"


# -- the state ends ----------------------------------------------------------------------------------


def test_logging_out_ends_the_verification(client: Client, urls: Any, db: Any) -> None:
    user = make_user()
    verified_client(client, user)
    assert client.get("/account/").status_code == 200
    client.post("/logout/")
    client.force_login(user)
    assert target_of(client.get("/account/")) == "/verify/"


def test_a_password_change_ends_the_verification(client: Client, urls: Any, db: Any) -> None:
    user = make_user()
    verified_client(client, user)
    assert client.get("/account/").status_code == 200
    response = client.post(
        "/password/",
        {"old_password": PASSWORD, "new_password1": "another horse 9381!", "new_password2": "another horse 9381!"},
    )
    assert response.status_code == 302
    # Still logged in (update_session_auth_hash), but no longer verified.
    response = client.get("/account/")
    assert target_of(response) == "/verify/"
    mark_client_verified(client, user)
    assert client.get("/account/").status_code == 200


def test_a_verification_belongs_to_its_user(client: Client, urls: Any, db: Any) -> None:
    verified_client(client, make_user("alice"))
    client.force_login(make_user("bob"))
    assert target_of(client.get("/account/")) == "/verify/"


# -- cost -----------------------------------------------------------------------------------------


def test_unprotected_pages_load_neither_the_session_nor_the_user(
    client: Client, urls: Any, db: Any, django_assert_num_queries: Any
) -> None:
    verified_client(client)
    with django_assert_num_queries(0):
        response = client.get("/probe/")
    assert header_flags(response) == ("False", "False")


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_verified_users_cost_no_query_beyond_authentication(
    client: Client, settings: Any, db: Any, django_assert_num_queries: Any
) -> None:
    use_enforcement_urls(settings, required=["polls:*"])
    full = list(settings.MIDDLEWARE)
    verified_client(client)
    # The page reads request.user, as most pages do: authentication's queries are the baseline.
    settings.MIDDLEWARE = without_our_middleware(full)
    without_us = _queries(client, "/polls/1/results/")
    settings.MIDDLEWARE = full
    with django_assert_num_queries(without_us):
        assert client.get("/polls/1/results/").status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/probe/").status_code == 200


# -- async ----------------------------------------------------------------------------------------


def test_the_middleware_is_a_coroutine_in_an_async_stack() -> None:
    async def get_response(request: Any) -> HttpResponse:
        return HttpResponse()

    middleware = VerificationRequiredMiddleware(get_response)
    assert iscoroutinefunction(middleware)
    assert iscoroutinefunction(middleware.process_view)
    sync_middleware = VerificationRequiredMiddleware(lambda request: HttpResponse())
    assert not iscoroutinefunction(sync_middleware.process_view)


@pytest.mark.django_db(transaction=True)
def test_async_requests_are_enforced(urls: Any) -> None:
    user = make_user()
    sync_client = Client()
    verified_client(sync_client, user)
    anonymous = AsyncClient()
    unverified = AsyncClient()
    verified = AsyncClient()
    verified.cookies = sync_client.cookies

    async def scenario() -> dict[str, Any]:
        await unverified.aforce_login(user)
        return {
            "anonymous": await anonymous.get("/account/?x=1"),
            "unverified": await unverified.get("/async/?y=2", headers={"Accept": "application/json"}),
            "verified": await verified.get("/account/"),
            "verified_async_view": await verified.get("/async/"),
            "unprotected": await unverified.get("/probe/"),
        }

    urls.VERIFICATION_REQUIRED_URLS = ["^/account/", "^/async/", "polls:*"]
    responses = async_to_sync(scenario)()
    assert responses["anonymous"].status_code == 302
    assert next_of(responses["anonymous"]) == "/account/?x=1"
    assert responses["unverified"].status_code == 401
    assert json.loads(responses["unverified"].content)["url"] == "/verify/?next=/async/%3Fy%3D2"
    assert responses["verified"].status_code == 200
    assert responses["verified_async_view"].status_code == 200
    assert header_flags(responses["unprotected"]) == ("False", "False")


def test_async_process_view_uses_auser_not_the_sync_user(urls: Any, db: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/"]

    async def get_response(request: Any) -> HttpResponse:
        return HttpResponse()

    middleware = VerificationRequiredMiddleware(get_response)
    request = RequestFactory().get("/account/")
    request.resolver_match = None

    def sync_user() -> None:
        raise AssertionError("request.user was read in async code")

    from django.contrib.auth.models import AnonymousUser

    async def auser() -> AnonymousUser:
        return AnonymousUser()

    request.auser = auser
    type(request).user = property(lambda self: sync_user())  # type: ignore[assignment]
    try:
        response = async_to_sync(middleware.process_view)(request, lambda r: None, (), {})
    finally:
        del type(request).user
    assert response.status_code == 302
    assert target_of(response) == "/login/"


# -- misconfiguration -------------------------------------------------------------------------------


def test_a_protected_request_without_authentication_middleware_is_an_error(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/"]
    middleware = VerificationRequiredMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/account/")
    request.resolver_match = None
    with pytest.raises(ImproperlyConfigured, match="AuthenticationMiddleware"):
        middleware.process_view(request, lambda r: None, (), {})


def test_an_unprotected_request_needs_nothing_at_all(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/"]
    middleware = VerificationRequiredMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/probe/")
    request.resolver_match = None
    # No user, no session on the request: the middleware must not need them.
    assert middleware.process_view(request, lambda r: None, (), {}) is None


def test_hooks_can_be_overridden(urls: Any, db: Any) -> None:
    class ElsewhereEnforcer(VerificationEnforcer):
        def get_verification_url(self, request: Any) -> str:
            return "/elsewhere/?keep=1"

    request = RequestFactory().get("/account/")
    request.session = {}  # type: ignore[assignment]
    request.user = make_user()
    response = ElsewhereEnforcer().check(request)
    assert response is not None
    assert target_of(response) == "/elsewhere/"
    assert parse_qs(urlsplit(response["Location"]).query) == {"keep": ["1"], "next": ["/account/"]}


def test_a_subclass_that_adds_process_request_and_response_gets_them_called(urls: Any) -> None:
    calls: list[str] = []

    class Hooked(VerificationRequiredMiddleware):
        def process_request(self, request: Any) -> None:
            calls.append("request")

        def process_response(self, request: Any, response: Any) -> Any:
            calls.append("response")
            return response

    Hooked(lambda request: HttpResponse("page"))(RequestFactory().get("/probe/"))
    assert calls == ["request", "response"]
    # Without hooks, the request goes straight on to the next layer and its answer comes back as is.
    answer = HttpResponse("page")
    assert VerificationRequiredMiddleware(lambda request: answer)(RequestFactory().get("/probe/")) is answer
