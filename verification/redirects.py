"""The one safe-`next` helper that every redirect of the app goes through."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

if TYPE_CHECKING:
    from django.http import HttpRequest

REDIRECT_FIELD_NAME = "next"
#: URL names that are never a target: following them after verifying would loop or log the user out.
FORBIDDEN_URL_NAMES = frozenset({"logout"})
FORBIDDEN_NAMESPACES = frozenset({"verification"})


def default_redirect_url() -> str:
    """Where to go when `next` is missing or unsafe: LOGIN_REDIRECT_URL."""
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def is_safe_next(url: str | None, request: HttpRequest | None = None) -> bool:
    """Tell whether `url` is a same-site path that may be redirected to after verification.

    Only a relative path with exactly one leading "/" passes: no scheme, no host, no backslash,
    no whitespace or control character (even percent-encoded), and not a verification page or logout.
    """
    if not url or not isinstance(url, str) or len(url) > 2048:
        return False
    decoded = unquote(url)
    for candidate in (url, decoded):
        if not candidate.startswith("/") or candidate.startswith("//"):
            return False
        if "\\" in candidate or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
            return False
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return False
    allowed_hosts = {request.get_host()} if request is not None else set()
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=allowed_hosts, require_https=False):
        return False
    return not _is_forbidden_target(parts.path)


def _is_forbidden_target(path: str) -> bool:
    try:
        match = resolve(unquote(path))
    except Resolver404:
        return False
    return match.url_name in FORBIDDEN_URL_NAMES or bool(FORBIDDEN_NAMESPACES.intersection(match.namespaces))


def safe_next_url(url: str | None, request: HttpRequest | None = None) -> str:
    """Return `url` if it is a safe `next`, else LOGIN_REDIRECT_URL."""
    return url if url is not None and is_safe_next(url, request) else default_redirect_url()
