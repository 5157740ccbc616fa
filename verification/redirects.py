"""Is this `next` safe? The one check that every redirect of the app to a caller's URL goes through."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from verification._compat import moved
from verification.paths import NEVER_A_NEXT_TARGET, path_spellings, resolve_site_path

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["MAX_NEXT_LENGTH", "browser_resolved_path", "default_redirect_url", "is_safe_next", "safe_next_url"]

#: Longer values are refused: no page of the site needs one, and they are a favourite of scanners.
MAX_NEXT_LENGTH = 2048
#: Unicode categories refused anywhere in `next`: controls, invisible format characters, separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
#: Path segments a browser reads as "this folder" and "the folder above" (the URL standard's, any case).
_SINGLE_DOTS = frozenset({".", "%2e"})
_DOUBLE_DOTS = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def default_redirect_url() -> str:
    """Where to go when `next` is missing or unsafe: LOGIN_REDIRECT_URL."""
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _is_plain_path(candidate: str) -> bool:
    if not candidate.startswith("/") or candidate.startswith("//"):
        return False
    if "\\" in candidate:
        return False
    return not any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in candidate)


def browser_resolved_path(path: str) -> str:
    """Return `path` with its dot segments resolved as a browser resolves them (the URL standard's path state).

    "/a/./b" is "/a/b", "/a/%2E%2e/b" is "/b", "/.//evil.com" is "//evil.com": the same origin, but no
    longer the path that was checked.
    """
    segments = path.split("/")[1:]
    resolved: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        folded = segment.lower()
        if folded in _DOUBLE_DOTS:
            if resolved:
                resolved.pop()
            if last:
                resolved.append("")
        elif folded in _SINGLE_DOTS:
            if last:
                resolved.append("")
        else:
            resolved.append(segment)
    return "/" + "/".join(resolved)


def _has_dot_segment(path: str) -> bool:
    return any(segment.lower() in _SINGLE_DOTS | _DOUBLE_DOTS for segment in path.split("/"))


def is_safe_next(url: str | None, request: HttpRequest | None = None) -> bool:
    """Tell whether `url` is a same-site path that may be redirected to after verification.

    Only a relative path with exactly one leading "/" passes: printable ASCII as sent, no scheme, no
    host, no backslash; a path a browser keeps as it is (`browser_resolved_path`); every spelling of
    it (`verification.paths.path_spellings`: decoded until it settles, NFKC-folded, slashes and dot
    segments resolved) a plain path free of whitespace, control and invisible characters and of "."
    and ".." segments, raw or encoded, and none of them a verification page or logout; at most
    MAX_NEXT_LENGTH characters. Django's `url_has_allowed_host_and_scheme` must agree too.
    """
    if not url or not isinstance(url, str) or len(url) > MAX_NEXT_LENGTH:
        return False
    if not url.isascii() or not url.isprintable() or " " in url or "\\" in url:
        return False
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return False
    if browser_resolved_path(parts.path) != parts.path:
        return False
    spellings, settled = path_spellings(parts.path)
    if not settled or not all(_is_plain_path(spelling) for spelling in spellings):
        return False
    if any(_has_dot_segment(spelling) for spelling in spellings):
        return False
    allowed_hosts = {request.get_host()} if request is not None else set()
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=allowed_hosts, require_https=False):
        return False
    return not any(_is_forbidden_target(spelling) for spelling in spellings)


def _is_forbidden_target(path: str) -> bool:
    match = resolve_site_path(path)
    return match is not None and NEVER_A_NEXT_TARGET.contains(match)


def safe_next_url(url: str | None, request: HttpRequest | None = None) -> str:
    """Return `url` if it is a safe `next`, else LOGIN_REDIRECT_URL."""
    return url if url is not None and is_safe_next(url, request) else default_redirect_url()


__getattr__ = moved(__name__, {"REDIRECT_FIELD_NAME": "verification.paths"})
