"""A URLconf and helpers for the enforcement tests: every view reports whether it was protected.

Use it as ROOT_URLCONF (`use_enforcement_urls(settings)`). Every page answers 200 with two headers,
`X-Session-Accessed` and `X-User-Evaluated`, telling whether anything before the view read the
session or fetched the user.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.views import LogoutView, PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path, re_path
from django.utils.functional import empty
from django.views import View
from django.views.decorators.http import require_POST

from verification.backends.base import BaseVerifyBackend
from verification.decorators import (
    VerificationNotRequiredMixin,
    VerificationRequiredMixin,
    verification_not_required,
    verification_required,
)
from verification.testing import verify_client

URLCONF = "verification.tests.helpers_enforcement"
NUMBER = "+447700900123"
PASSWORD = "correct horse battery staple 42"
MIDDLEWARE_PATH = "verification.middleware.VerificationRequiredMiddleware"


def _probe(request: HttpRequest, body: str = "page") -> HttpResponse:
    # Read the flags before touching anything ourselves.
    session_accessed = request.session.accessed
    user = request.__dict__.get("user")
    user_evaluated = user is not None and getattr(user, "_wrapped", None) is not empty
    response = HttpResponse(body)
    response["X-Session-Accessed"] = str(session_accessed)
    response["X-User-Evaluated"] = str(user_evaluated)
    return response


def page(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """A page that touches neither the session nor the user."""
    return _probe(request)


async def async_page(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """The same, async."""
    return _probe(request, "async page")


def user_page(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """A page that shows who is logged in, as most pages of a site do."""
    return HttpResponse(f"hello {request.user.get_username() or 'stranger'}")


@require_POST
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    """A POST-only action."""
    return HttpResponse("voted")


class ProtectedView(VerificationRequiredMixin, View):
    """A class-based view protected by the mixin."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("mixin page")


class FreshProtectedView(ProtectedView):
    """The same, with a five-minute freshness."""

    verification_max_age = 300


class AsyncProtectedView(VerificationRequiredMixin, View):
    """An async class-based view protected by the mixin."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("async mixin page")


class OpenView(VerificationNotRequiredMixin, View):
    """A class-based view exempted by the mixin."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return _probe(request, "open cbv")


class LocalTestBackend(BaseVerifyBackend):
    """A backend that delivers nothing; the system-check tests configure it."""

    channels = ("sms", "voice")


class NotABackend:
    """Anything but a Verify backend."""


polls_patterns = (
    [
        path("", page, name="index"),
        path("<int:pk>/", page, name="detail"),
        path("<int:pk>/results/", user_page, name="results"),
        path("<int:pk>/vote/", vote, name="vote"),
    ],
    "polls",
)
inner_patterns = ([path("page/", page, name="page")], "inner")
outer_patterns = ([path("inner/", include(inner_patterns)), path("top/", page, name="top")], "outer")
verification_patterns = (
    [
        path("", page, name="phone"),
        path("send/", page, name="send"),
        path("confirm/", page, name="confirm"),
        path("resend/", page, name="resend"),
        path("cancel/", page, name="cancel"),
    ],
    "verification",
)

urlpatterns = [
    path("", page, name="home"),
    path("probe/", page, name="probe"),
    path("polls/", include(polls_patterns)),
    # A second instance of the same patterns, in the namespace "archive".
    path("archive/", include(polls_patterns, namespace="archive")),
    path("verify/", include(verification_patterns)),
    path("login/", page, name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("password/", PasswordChangeView.as_view(success_url="/probe/"), name="password_change"),
    path("account/", page, name="account"),
    path("account/settings/", page, name="account-settings"),
    path("account/help/", page, name="account-help"),
    path("account/form/", user_page, name="account-form"),
    path("nested/", include(outer_patterns)),
    path("open/", verification_not_required(page), name="open"),
    path("open-cbv/", OpenView.as_view(), name="open-cbv"),
    path("async/", async_page, name="async-page"),
    path("decorated/", verification_required(page), name="decorated"),
    path("decorated-fresh/", verification_required(max_age=60)(page), name="decorated-fresh"),
    path("decorated-async/", verification_required(async_page), name="decorated-async"),
    path("mixin/", ProtectedView.as_view(), name="mixin"),
    path("mixin-fresh/", FreshProtectedView.as_view(), name="mixin-fresh"),
    path("mixin-async/", AsyncProtectedView.as_view(), name="mixin-async"),
    re_path(r"^files/(?P<name>.+)$", page, name="files"),
    re_path(r"^optional/?$", page, name="optional"),
    re_path(r"^static/(?P<path>.*)$", page, name="static"),
    re_path(r"^media/(?P<path>.*)$", page, name="media"),
]


class URLconfWithoutVerification:
    """This URLconf without the verification pages (ROOT_URLCONF may be any object with urlpatterns)."""

    urlpatterns = [pattern for pattern in urlpatterns if "verify/" not in str(pattern.pattern)]


def use_enforcement_urls(settings: Any, required: list[Any] | None = None, **overrides: Any) -> None:
    """Point the settings at this URLconf, with LOGIN_URL, static and media URLs it serves."""
    settings.ROOT_URLCONF = URLCONF
    settings.LOGIN_URL = "login"
    settings.LOGOUT_REDIRECT_URL = "/probe/"
    settings.STATIC_URL = "static/"
    settings.MEDIA_URL = "/media/"
    settings.VERIFICATION_MAX_AGE = None
    settings.VERIFICATION_EXEMPT_URLS = []
    settings.VERIFICATION_REQUIRED_URLS = required if required is not None else []
    # Users are created in most tests: a fast hasher keeps them quick (nothing here tests hashing).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for name, value in overrides.items():
        setattr(settings, name, value)


def make_user(username: str = "alice") -> Any:
    """Create a user with PASSWORD."""
    return get_user_model().objects.create_user(username, password=PASSWORD)


def mark_client_verified(client: Client, user: Any, number: str = NUMBER) -> None:
    """Record a fresh verification of `user`, logged in on `client`, in the client's session (no number on file)."""
    assert client.session.get(SESSION_KEY) == user._meta.pk.value_to_string(user), "log `user` in on `client` first"
    verify_client(client, number, save_number=False)


def verified_client(client: Client, user: Any | None = None) -> Client:
    """Log `client` in (as a new user unless given) and mark it verified."""
    user = user or make_user()
    client.force_login(user)
    mark_client_verified(client, user)
    return client


def header_flags(response: Any) -> tuple[str, str]:
    """Return the probe's (session accessed, user evaluated) headers."""
    return response["X-Session-Accessed"], response["X-User-Evaluated"]


def without_our_middleware(middleware: list[str]) -> list[str]:
    """Return MIDDLEWARE without VerificationRequiredMiddleware."""
    return [entry for entry in middleware if entry != MIDDLEWARE_PATH]
