"""URL concerns shared by the rules, the safe-`next` check, the enforcer, the views and the checks.

- the script prefix (`site_path`), the login URL (`login_url`), a query parameter added to a URL
  (`add_query`, `with_next`);
- the two named sets of views: `NEVER_ENFORCED` (the rules add the login view, STATIC_URL, MEDIA_URL,
  views marked `verification_not_required`, and views marked `login_not_required` that no URL-name
  rule names) and `NEVER_A_NEXT_TARGET`;
- the one expander of path spellings (`path_spellings`): every spelling of a path that a browser, a
  proxy, a server or a view might still read as the same path. Protections match any of them,
  exemptions and `next` must hold for all of them.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.http import QueryDict
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve

if TYPE_CHECKING:
    from django.urls import ResolverMatch

__all__ = [
    "NEVER_A_NEXT_TARGET",
    "NEVER_ENFORCED",
    "REDIRECT_FIELD_NAME",
    "VERIFICATION_NAMESPACE",
    "PathSpellings",
    "URLSet",
    "add_query",
    "app_qualified_name",
    "enclosing_namespaces",
    "has_other_spellings",
    "is_named",
    "login_url",
    "path_spellings",
    "resolve_site_path",
    "served_prefix",
    "site_path",
    "with_next",
]

#: The query parameter and form field that carry where to go back to.
REDIRECT_FIELD_NAME = "next"
#: The app namespace of the verification flow's views.
VERIFICATION_NAMESPACE = "verification"
#: Percent-decoding rounds tried: a path that the last of them still changes never settles.
DECODE_ROUNDS = 4
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True, slots=True)
class URLSet:
    """Views named by URL name (in any namespace), by enclosing namespace (instance or app), or by app view name.

    An app view name ("admin:login") is the view's URL name with the application namespace right around
    it: it names that view in every instance of the app (every AdminSite), and no other view of that name.
    """

    url_names: frozenset[str]
    namespaces: frozenset[str]
    app_view_names: frozenset[str] = frozenset()
    #: The URL names of `app_view_names` ("login"): a view of any other name needs one set lookup.
    _app_url_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        app_url_names = frozenset(name.rpartition(":")[2] for name in self.app_view_names)
        object.__setattr__(self, "_app_url_names", app_url_names)

    def contains(self, match: ResolverMatch) -> bool:
        """Tell whether the resolved view `match` is one of this set."""
        url_name = match.url_name
        if url_name in self.url_names or not self.namespaces.isdisjoint((*match.namespaces, *match.app_names)):
            return True
        if url_name not in self._app_url_names or not match.app_names:
            return False
        return f"{match.app_names[-1]}:{url_name}" in self.app_view_names


def served_prefix(url: str | None) -> str | None:
    """Return the path prefix a setting such as STATIC_URL serves on this site; None if off-site or the whole site."""
    if not url:
        return None
    parts = urlsplit(str(url))
    if parts.scheme or parts.netloc:
        return None
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    if not path.endswith("/"):
        path += "/"
    return path if path != "/" else None


def app_qualified_name(match: ResolverMatch) -> str:
    """Return the resolved view's URL name after its application namespaces ("shop:cart" in any instance)."""
    return ":".join([*match.app_names, match.url_name or ""])


def is_named(names: Container[str], match: ResolverMatch) -> bool:
    """Tell whether `names` holds the resolved view's name, as resolved ("archive:cart") or app-qualified.

    The app-qualified name names the view in every instance of its app, whatever the instance namespace.
    """
    return match.view_name in names or (bool(match.url_name) and app_qualified_name(match) in names)


def enclosing_namespaces(match: ResolverMatch) -> Iterator[str]:
    """Yield every namespace enclosing the view: "admin", then "admin:auth"; instance and app namespaces."""
    for spaces in (match.namespaces, match.app_names):
        for depth in range(1, len(spaces) + 1):
            yield ":".join(spaces[:depth])


#: Never enforced, whatever the rules say, so a redirect loop is impossible: logging out must always be
#: possible, the flow's own views are where users verify, and the admin's login (of every AdminSite) is
#: where staff log in, whatever LOGIN_URL is: a rule on it would send them to LOGIN_URL instead.
NEVER_ENFORCED = URLSet(frozenset({"logout"}), frozenset({VERIFICATION_NAMESPACE}), frozenset({"admin:login"}))
#: Never a `next` target: following one after verifying would log the user out or loop into the flow.
NEVER_A_NEXT_TARGET = URLSet(frozenset({"logout"}), frozenset({VERIFICATION_NAMESPACE}))


def site_path(url: str) -> str | None:
    """Return the path of a same-site `url` as URL patterns see it (the script prefix removed); None if off-site."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    path = parts.path
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    return path


def resolve_site_path(path: str) -> ResolverMatch | None:
    """Return the view that the request path `path` (script prefix included, if any) resolves to, or None."""
    inner = site_path(path)
    if inner is None:
        return None
    try:
        return resolve(inner)
    except Resolver404:
        return None


def login_url() -> str | None:
    """Return LOGIN_URL resolved (a URL name reversed), or None when it is unset or names no URL."""
    if not settings.LOGIN_URL:
        return None
    try:
        return str(resolve_url(settings.LOGIN_URL))
    except NoReverseMatch:
        return None


def add_query(url: str, params: Mapping[str, str]) -> str:
    """Return `url` with `params` set in its query string ("/" left as is, so `next` stays readable)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = QueryDict(parts.query, mutable=True)
    for name, value in params.items():
        query[name] = value
    return parts._replace(query=query.urlencode(safe="/")).geturl()


def with_next(url: str, next_url: str, field_name: str = REDIRECT_FIELD_NAME, **params: str) -> str:
    """Return `url` with `params`, then `next_url` as `field_name` unless it is empty."""
    if next_url:
        params[field_name] = next_url
    return add_query(url, params)


class PathSpellings(NamedTuple):
    """Every spelling of one path; `settled` is False when decoding it never stopped changing it."""

    spellings: list[str]
    settled: bool


def path_spellings(path: str) -> PathSpellings:
    """Return `path` and every other spelling of it that might be read as the same path.

    The spellings are: `path` percent-decoded 0, 1, 2... times until it no longer changes (`settled` is
    False if the DECODE_ROUNDS-th round still changes it), each NFKC-folded (browsers and proxies
    may fold U+FF0F, the fullwidth solidus, into "/"), and each of those with backslashes read as slashes,
    repeated slashes collapsed and dot segments resolved. The first one is `path` itself.
    """
    decoded = [path]
    settled = True
    while "%" in decoded[-1]:
        once_more = unquote(decoded[-1])
        if once_more == decoded[-1]:
            break
        if len(decoded) == DECODE_ROUNDS:
            # The last round tried still changed it: whatever reads it next may decode it again.
            settled = False
            break
        decoded.append(once_more)
    spellings = decoded + [unicodedata.normalize("NFKC", spelling) for spelling in decoded if not spelling.isascii()]
    spellings += [_normalised(spelling) for spelling in spellings]
    return PathSpellings(list(dict.fromkeys(spellings)), settled)


def _normalised(path: str) -> str:
    """Return `path` with backslashes as slashes, repeated slashes collapsed and dot segments resolved."""
    normal = _SLASHES.sub("/", path.replace("\\", "/"))
    if "/." in normal:
        resolved = posixpath.normpath(normal)
        if normal.endswith(("/", "/.", "/..")) and not resolved.endswith("/"):
            resolved += "/"
        normal = resolved
    return normal


def has_other_spellings(path: str) -> bool:
    """Tell whether `path` may have spellings other than itself (most paths have none: the fast path)."""
    return "%" in path or "//" in path or "/." in path or "\\" in path or not path.isascii()
