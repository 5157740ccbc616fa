"""The one safe-`next` helper that every redirect of the app goes through."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import Resolver404, get_script_prefix, resolve
from django.utils.http import url_has_allowed_host_and_scheme

if TYPE_CHECKING:
    from django.http import HttpRequest

REDIRECT_FIELD_NAME = "next"
#: URL names that are never a target: following them after verifying would loop or log the user out.
FORBIDDEN_URL_NAMES = frozenset({"logout"})
FORBIDDEN_NAMESPACES = frozenset({"verification"})
#: Longer values are refused: no page of the site needs one, and they are a favourite of scanners.
MAX_NEXT_LENGTH = 2048
#: Percent-decoding rounds tried; a value still changing after them is refused.
_DECODE_ROUNDS = 4
#: Unicode categories refused anywhere in `next`: controls, invisible format characters, separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def default_redirect_url() -> str:
    """Where to go when `next` is missing or unsafe: LOGIN_REDIRECT_URL."""
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _spellings(url: str) -> list[str] | None:
    """Return `url` decoded 0, 1, 2... times until stable (and NFKC-folded), or None if it never settles."""
    spellings = [url]
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(spellings[-1])
        if decoded == spellings[-1]:
            break
        spellings.append(decoded)
    else:
        return None
    # Browsers and proxies may fold U+FF0F (fullwidth solidus) and friends into their ASCII look-alikes.
    spellings += [unicodedata.normalize("NFKC", spelling) for spelling in spellings]
    return spellings


def _is_plain_path(candidate: str) -> bool:
    if not candidate.startswith("/") or candidate.startswith("//"):
        return False
    if "\\" in candidate:
        return False
    return not any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in candidate)


def is_safe_next(url: str | None, request: HttpRequest | None = None) -> bool:
    """Tell whether `url` is a same-site path that may be redirected to after verification.

    Only a relative path with exactly one leading "/" passes: printable ASCII as sent, no scheme, no
    host, no backslash; its path part free of whitespace, control and invisible characters even once
    or twice percent-decoded; at most MAX_NEXT_LENGTH characters; not a verification page or logout.
    Django's `url_has_allowed_host_and_scheme` must agree too.
    """
    if not url or not isinstance(url, str) or len(url) > MAX_NEXT_LENGTH:
        return False
    if not url.isascii() or not url.isprintable() or " " in url or "\\" in url:
        return False
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return False
    spellings = _spellings(parts.path)
    if spellings is None or not all(_is_plain_path(spelling) for spelling in spellings):
        return False
    allowed_hosts = {request.get_host()} if request is not None else set()
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=allowed_hosts, require_https=False):
        return False
    return not any(_is_forbidden_target(spelling) for spelling in spellings)


def _is_forbidden_target(path: str) -> bool:
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.url_name in FORBIDDEN_URL_NAMES or bool(
        FORBIDDEN_NAMESPACES.intersection(match.namespaces) or FORBIDDEN_NAMESPACES.intersection(match.app_names)
    )


def safe_next_url(url: str | None, request: HttpRequest | None = None) -> str:
    """Return `url` if it is a safe `next`, else LOGIN_REDIRECT_URL."""
    return url if url is not None and is_safe_next(url, request) else default_redirect_url()
