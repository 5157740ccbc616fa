"""URL concerns: the one path-spelling expander, the two named sets, the login URL, adding `next`."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from typing import Any
from urllib.parse import unquote

from django.test import override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from verification.paths import (
    NEVER_A_NEXT_TARGET,
    NEVER_ENFORCED,
    add_query,
    has_other_spellings,
    login_url,
    path_spellings,
    resolve_site_path,
    site_path,
    with_next,
)


# The two expanders this one replaced, as they were: the rules' and the safe-`next` check's.
def rules_spellings_before(path: str) -> list[str]:
    spellings = [path]
    decoded = path
    for _ in range(3):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
        spellings.append(decoded)
    for spelling in list(spellings):
        normal = re.sub(r"/{2,}", "/", spelling.replace("\\", "/"))
        if "/." in normal:
            resolved = posixpath.normpath(normal)
            if normal.endswith(("/", "/.", "/..")) and not resolved.endswith("/"):
                resolved += "/"
            normal = resolved
        spellings.append(normal)
    return list(dict.fromkeys(spellings))


def next_spellings_before(url: str) -> list[str] | None:
    spellings = [url]
    for _ in range(4):
        decoded = unquote(spellings[-1])
        if decoded == spellings[-1]:
            break
        spellings.append(decoded)
    else:
        return None
    return spellings + [unicodedata.normalize("NFKC", spelling) for spelling in spellings]


PATH_PIECES = ["/", "//", "a", "b", ".", "..", "\\", "%", "%2F", "%252F", "%25", "%2e", "%5C", "\uff0f", "%EF%BC%8F"]
paths = st.lists(st.sampled_from(PATH_PIECES), max_size=10).map(lambda pieces: "/" + "".join(pieces))


@hypothesis_settings(max_examples=500)
@given(paths)
def test_the_expander_gives_every_spelling_either_old_one_gave(path: str) -> None:
    spellings, settled = path_spellings(path)
    assert spellings[0] == path
    assert set(rules_spellings_before(path)) <= set(spellings)
    before = next_spellings_before(path)
    # `next` refused what never settled, and still does; what settled keeps every spelling it had.
    assert settled == (before is not None)
    if before is not None:
        assert set(before) <= set(spellings)


@given(paths)
def test_a_path_without_what_makes_spellings_differ_has_only_itself(path: str) -> None:
    if not has_other_spellings(path):
        assert path_spellings(path) == ([path], True)


def test_the_spellings_of_one_path() -> None:
    assert path_spellings("/plain/") == (["/plain/"], True)
    spellings, settled = path_spellings("/a/%252F%252Fb/")
    assert settled
    assert {"/a/%2F%2Fb/", "/a///b/", "/a/b/"} <= set(spellings)
    assert "/a/b/" in path_spellings("/a/\uff0fb/").spellings  # the fullwidth solidus, NFKC-folded
    assert "/secret/" in path_spellings("/static/..\\secret/").spellings
    assert not path_spellings("/%2525252F/").settled


def test_the_two_named_sets(settings: Any) -> None:
    for name in ("verification:phone", "verification:confirm", "logout"):
        from django.urls import reverse

        match = resolve_site_path(reverse(name))
        assert match is not None
        assert NEVER_ENFORCED.contains(match)
        assert NEVER_A_NEXT_TARGET.contains(match)
    detail = resolve_site_path("/shop/1/")
    assert detail is not None
    assert not NEVER_ENFORCED.contains(detail)
    assert not NEVER_A_NEXT_TARGET.contains(detail)


def test_site_path_strips_the_script_prefix_and_refuses_other_sites() -> None:
    from django.urls import set_script_prefix

    assert site_path("/shop/1/?x=1") == "/shop/1/"
    assert site_path("https://evil.example/shop/") is None
    assert site_path("//evil.example/shop/") is None
    set_script_prefix("/app/")
    try:
        assert site_path("/app/shop/1/") == "/shop/1/"
        assert resolve_site_path("/app/shop/1/") is not None
    finally:
        set_script_prefix("/")


def test_login_url_resolves_names_and_says_none_when_it_cannot() -> None:
    with override_settings(LOGIN_URL="login"):
        assert login_url() == "/login/"
    with override_settings(LOGIN_URL="/elsewhere/"):
        assert login_url() == "/elsewhere/"
    with override_settings(LOGIN_URL="no-such-url-name"):
        assert login_url() is None
    with override_settings(LOGIN_URL=""):
        assert login_url() is None


def test_adding_next_keeps_the_query_and_leaves_slashes_readable() -> None:
    assert with_next("/verify/", "/shop/1/?a=1&b=2") == "/verify/?next=/shop/1/%3Fa%3D1%26b%3D2"
    assert with_next("/verify/", "") == "/verify/"
    assert with_next("/verify/", "/p/", other="1") == "/verify/?other=1&next=/p/"
    assert add_query("/login/?lang=en", {"next": "/x/"}) == "/login/?lang=en&next=/x/"
    assert add_query("/login/?next=/old/", {"next": "/new/"}) == "/login/?next=/new/"
