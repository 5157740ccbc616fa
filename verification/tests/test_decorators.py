"""Per-view protection and exemption: the decorators and the class-based-view mixins, sync and async."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.views import View

from verification.decorators import VerificationRequiredMixin, verification_not_required, verification_required
from verification.enforcement import VerificationEnforcer
from verification.tests.helpers_enforcement import (
    AsyncProtectedView,
    OpenView,
    ProtectedView,
    async_page,
    header_flags,
    make_user,
    page,
    use_enforcement_urls,
    verified_client,
    without_our_middleware,
)

PROTECTED = ["/decorated/", "/decorated-fresh/", "/decorated-async/", "/mixin/", "/mixin-fresh/", "/mixin-async/"]
T0 = 1_750_000_000


@pytest.fixture(params=["with the middleware", "without the middleware"])
def urls(request: Any, settings: Any) -> Any:
    """The test URLconf, no settings rules; with and without VerificationRequiredMiddleware."""
    use_enforcement_urls(settings)
    if request.param == "without the middleware":
        settings.MIDDLEWARE = without_our_middleware(list(settings.MIDDLEWARE))
    return settings


@pytest.mark.parametrize("path", PROTECTED)
def test_anonymous_users_go_to_login(client: Client, urls: Any, db: Any, path: str) -> None:
    response = client.get(path + "?a=1")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/login/"
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [path + "?a=1"]


@pytest.mark.parametrize("path", PROTECTED)
def test_unverified_users_go_to_verify(client: Client, urls: Any, db: Any, path: str) -> None:
    client.force_login(make_user())
    response = client.get(path)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/verify/"
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert json.loads(response.content)["error"] == "verification_required"


@pytest.mark.parametrize("path", PROTECTED)
def test_verified_users_pass(client: Client, urls: Any, db: Any, path: str) -> None:
    verified_client(client)
    assert client.get(path).status_code == 200


def test_the_views_own_max_age_applies(client: Client, urls: Any, db: Any) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        verified_client(client)
        traveller.shift(61)
        assert client.get("/decorated/").status_code == 200
        assert client.get("/mixin-fresh/").status_code == 200
        assert client.get("/decorated-fresh/").status_code == 302
        traveller.shift(240)
        assert client.get("/mixin-fresh/").status_code == 302
        assert client.get("/mixin/").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/decorated-async/", "/mixin-async/", "/decorated/", "/mixin/"])
def test_async_client(urls: Any, path: str) -> None:
    user = make_user()
    sync_client = Client()
    verified_client(sync_client, user)
    verified = AsyncClient()
    verified.cookies = sync_client.cookies
    unverified = AsyncClient()

    async def scenario() -> tuple[Any, Any, Any]:
        anonymous = await AsyncClient().get(path)
        await unverified.aforce_login(user)
        return anonymous, await unverified.get(path), await verified.get(path)

    anonymous, not_yet, passed = async_to_sync(scenario)()
    assert urlsplit(anonymous["Location"]).path == "/login/"
    assert urlsplit(not_yet["Location"]).path == "/verify/"
    assert passed.status_code == 200


def test_exempt_views_pass_a_catch_all_rule(client: Client, settings: Any, db: Any) -> None:
    use_enforcement_urls(settings, required=[r"^/"])
    client.force_login(make_user())
    for path in ("/open/", "/open-cbv/"):
        response = client.get(path)
        assert response.status_code == 200
        assert header_flags(response) == ("False", "False")
    # The same function, undecorated, stays protected elsewhere.
    assert client.get("/probe/").status_code == 302


def test_decorators_keep_the_view_as_it_was() -> None:
    assert verification_required(page).__name__ == "page"
    assert verification_required(page).verification_required is True  # type: ignore[attr-defined]
    assert verification_required(max_age=5)(page).verification_required is True  # type: ignore[attr-defined]
    assert verification_not_required(page).verification_required is False  # type: ignore[attr-defined]
    assert not hasattr(page, "verification_required")
    assert iscoroutinefunction(verification_required(async_page))
    assert iscoroutinefunction(verification_not_required(async_page))
    assert not iscoroutinefunction(verification_required(page))


def test_mixins_mark_the_view() -> None:
    assert ProtectedView.as_view().verification_required is True  # type: ignore[attr-defined]
    assert OpenView.as_view().verification_required is False  # type: ignore[attr-defined]
    assert iscoroutinefunction(AsyncProtectedView.as_view())


class ToTheHelpPage(VerificationEnforcer):
    """An enforcer that sends unverified users somewhere else."""

    def get_verification_url(self, request: Any) -> str:
        return "/help/verify/"


def enforced_page(request: Any) -> HttpResponse:
    return HttpResponse("inside")


class EnforcedView(VerificationRequiredMixin, View):
    verification_enforcer_class = ToTheHelpPage

    def get(self, request: Any) -> HttpResponse:
        return HttpResponse("inside")


def test_the_decorator_and_the_mixin_take_an_enforcer_class_the_same_way(db: Any) -> None:
    request = RequestFactory().get("/somewhere/")
    request.user = make_user()
    request.session = SessionStore()
    decorated = verification_required(enforcer_class=ToTheHelpPage)(enforced_page)
    for view in (decorated, EnforcedView.as_view()):
        response = view(request)
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path == "/help/verify/"
        assert parse_qs(urlsplit(response["Location"]).query) == {"next": ["/somewhere/"]}
    # The default enforcer sends to the flow.
    assert urlsplit(verification_required(enforced_page)(request)["Location"]).path == "/verify/"
