"""The safe `next`: only same-site relative paths survive; never a verification page or logout."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from verification.redirects import MAX_NEXT_LENGTH, default_redirect_url, is_safe_next, safe_next_url
from verification.tests.helpers_enforcement import use_enforcement_urls

HOSTILE = [
    # Other sites, however spelled.
    "https://evil.example/",
    "http://evil.example",
    "HTTPS://EVIL.EXAMPLE/",
    "ftp://evil.example/",
    "http:/evil.example",
    "http:evil.example",
    "https:\\\\evil.example",
    "//evil.example/",
    "///evil.example/",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "http://testserver/polls/",
    # Whitespace and control characters that browsers strip or servers split on.
    "/\t/evil.example",
    "\t//evil.example",
    "/ /evil.example",
    " /polls/",
    "/polls/\n",
    "/polls/\x00",
    "/\x7f/evil.example",
    "/%09/evil.example",
    "/%00/polls/",
    "/%0d%0aSet-Cookie:%20a=1",
    # Encoded slashes and backslashes, once, twice, three times.
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%252F/evil.example",
    "/%25252F/evil.example",
    "/%2525252525252F/evil.example",
    "%2F%2Fevil.example",
    # Schemes that run code or leave the site.
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "mailto:someone@evil.example",
    # Unicode look-alikes and invisible characters.
    "/\u2215evil.example",
    "/\uff0f/evil.example",
    "/%EF%BC%8F/evil.example",
    "/\u202e/polls/",
    "/%E2%80%AE/polls/",
    "/%E2%80%8B/polls/",
    "/polls/\u00a0",
    # Not a path.
    "",
    "polls/1/",
    "./polls/",
    "../polls/",
    "?next=//evil.example",
    "#//evil.example",
    # Too long.
    "/" + "a" * MAX_NEXT_LENGTH,
    # The verification pages and logout: a loop, or a surprise logout.
    "/verify/",
    "/verify/confirm/?next=/polls/",
    "/verify/send/",
    "/%76erify/",
    "/verify/%63onfirm/",
    "/logout/",
    "/logout/?next=/polls/",
    # ... also once a browser or server resolves its dot segments and repeated slashes.
    "/polls/../verify/",
    "/polls/%2E%2E/logout/",
    "/polls//..//verify/confirm/",
]

SAFE = [
    "/",
    "/polls/",
    "/polls/1/?tab=votes&x=%2F",
    "/polls/1/#results",
    "/account/?q=a%20b",
    "/files/caf%C3%A9",
    "/@evil.example",
    "/login/?next=/polls/",
]


@pytest.fixture(autouse=True)
def _urls(settings: Any) -> None:
    use_enforcement_urls(settings, LOGIN_REDIRECT_URL="polls:index")


def test_there_are_at_least_forty_hostile_values() -> None:
    assert len(set(HOSTILE)) >= 40


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused(value: str) -> None:
    request = RequestFactory().get("/")
    assert not is_safe_next(value)
    assert not is_safe_next(value, request)
    assert safe_next_url(value, request) == "/polls/"


@pytest.mark.parametrize("value", SAFE)
def test_same_site_paths_are_kept(value: str) -> None:
    request = RequestFactory().get("/")
    assert is_safe_next(value, request)
    assert safe_next_url(value, request) == value


@pytest.mark.parametrize("value", [None, 42, b"/polls/", ["/polls/"]])
def test_anything_but_a_string_falls_back(value: Any) -> None:
    assert not is_safe_next(value)
    assert safe_next_url(value if value is None else None) == "/polls/"


def test_the_fallback_is_login_redirect_url(settings: Any) -> None:
    settings.LOGIN_REDIRECT_URL = "/account/"
    assert default_redirect_url() == "/account/"
    assert safe_next_url("//evil.example/") == "/account/"


def test_a_script_prefix_is_understood_for_forbidden_targets(settings: Any) -> None:
    from django.urls import set_script_prefix

    set_script_prefix("/site/")
    try:
        assert not is_safe_next("/site/verify/")
        assert not is_safe_next("/site/logout/")
        assert is_safe_next("/site/polls/")
    finally:
        set_script_prefix("/")
