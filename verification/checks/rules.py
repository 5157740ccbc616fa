"""System checks of the URL rules.

- E003 VERIFICATION_REQUIRED_URLS or VERIFICATION_EXEMPT_URLS is not a list or tuple.
- E004 a rule has the wrong form.
- E005 a path rule is not a valid regular expression.
- E006 a path rule can never match (a path always starts with "/").
- E007 a rule names a URL that does not exist.
- E008 a rule names a namespace that does not exist.
- E009 a rule's `max_age` is not a whole number of seconds, 1 or more.
- E038 the verification URLs (`verification:phone`) are not in the URLconf.
- W002 a protection rule covers LOGIN_URL (it stays exempt), and no exemption covers it too.
- W003 a protection rule covers the verification views (they stay exempt), and no exemption covers them too.
- W006 an exemption covers every path: the protection rules protect nothing.
- I001 a URL-name rule names a view marked `login_not_required`: the rule wins, the view is enforced.

Coverage is decided as the middleware decides it (`Rule.covers_view` on the resolved view, the path
rules on the view's path), so an exemption that silences W002 or W003 is one that really applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured, ViewDoesNotExist
from django.urls import NoReverseMatch, ResolverMatch, URLPattern, URLResolver, get_resolver, reverse

from verification._path_index import compile_pattern, literal_prefix
from verification.checks.middleware import MIDDLEWARE_PATH, index_of
from verification.conf import conf
from verification.exceptions import InvalidRule
from verification.paths import (
    NEVER_ENFORCED,
    VERIFICATION_NAMESPACE,
    app_qualified_name,
    login_url,
    resolve_site_path,
    site_path,
)
from verification.rules import LOGIN_REQUIRED_ATTRIBUTE, VIEW_ATTRIBUTE, Rule, parse_rule

__all__ = ["check_rules"]

RULE_SETTINGS = ("VERIFICATION_REQUIRED_URLS", "VERIFICATION_EXEMPT_URLS")
#: Paths an exemption must not cover all of: if it does, it covers every path.
_SAMPLE_PATHS = ("/", "/a/", "/shop/1/", "/zz-check/yy/x.json")


class _URLconfContents(NamedTuple):
    """What rules can name in the URLconf."""

    #: Every qualified URL name, each namespace written as its instance or its application namespace.
    names: set[str]
    #: Every namespace, nested ones qualified the same way.
    namespaces: set[str]
    #: Every named view, as the resolver would match it.
    views: list[ResolverMatch]
    #: The same views by the names a URL-name rule matches them by: as resolved, and app-qualified.
    views_by_name: dict[str, list[ResolverMatch]]


def _read_urlconf() -> _URLconfContents | None:
    """Return what the rules can name in the URLconf, or None if it does not load."""
    contents = _URLconfContents(set(), set(), [], {})

    def walk(
        patterns: Iterable[URLPattern | URLResolver],
        prefixes: set[str],
        instances: tuple[str | None, ...],
        apps: tuple[str | None, ...],
    ) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = prefixes
                if pattern.namespace:
                    own = {pattern.namespace, pattern.app_name} - {None, ""}
                    inner = {f"{prefix}:{space}" if prefix else str(space) for prefix in prefixes for space in own}
                    contents.namespaces.update(inner)
                # As URLResolver.resolve() adds them (ResolverMatch leaves out the empty ones).
                walk(pattern.url_patterns, inner, (*instances, pattern.namespace), (*apps, pattern.app_name))
            elif pattern.name:
                contents.names.update(f"{prefix}:{pattern.name}" if prefix else pattern.name for prefix in prefixes)
                view = ResolverMatch(pattern.callback, (), {}, pattern.name, list(apps), list(instances))
                contents.views.append(view)
                for name in {view.view_name, app_qualified_name(view)}:
                    contents.views_by_name.setdefault(name, []).append(view)

    if not hasattr(settings, "ROOT_URLCONF"):
        return None  # Not a site (a bare settings module): there are no URLs to check.
    try:
        walk(get_resolver().url_patterns, {""}, (), ())
    except (ImportError, ImproperlyConfigured, ViewDoesNotExist):
        return None  # Django's own URL checks report it.
    return contents


def _parsed_rules(setting: str, entries: object, errors: list[CheckMessage]) -> list[Rule]:
    if not isinstance(entries, list | tuple):
        errors.append(
            Error(
                f"{setting} must be a list or tuple of rules, not {type(entries).__name__}.",
                hint="Write a list: regular expressions ('^/account/'), URL names ('shop:cart'), "
                "namespaces ('shop:*') or dicts with 'path' or 'name' and 'max_age'.",
                id="verification.E003",
            )
        )
        return []
    rules = []
    for entry in entries:
        try:
            rule = parse_rule(entry)
            if rule.kind == "path":
                compile_pattern(rule.value)
        except InvalidRule as error:
            errors.append(Error(f"{setting}: {error}", hint=_RULE_HINTS[error.check_id], id=error.check_id))
            continue
        if rule.kind == "path" and literal_prefix(rule.value)[:1] not in ("", "/"):
            errors.append(
                Error(
                    f"{setting}: {rule.value!r} can never match: paths start with '/'.",
                    hint=f"Write '^/{rule.value.lstrip('^')}' (URL patterns leave the '/' out; these rules do not).",
                    id="verification.E006",
                )
            )
            continue
        rules.append(rule)
    return rules


_RULE_HINTS = {
    "verification.E004": "A rule is a regular expression starting with '^' or '/', a URL name ('shop:cart'), "
    "a namespace ('shop:*'), or {'path': ..., 'max_age': seconds} / {'name': ..., 'max_age': seconds}.",
    "verification.E005": "Fix the regular expression; test it with re.match(pattern, '/some/path/').",
    "verification.E009": "Give 'max_age' as a whole number of seconds (300 for five minutes), or leave it out.",
}


def _covers(rule: Rule, path: str | None, view: ResolverMatch | None) -> bool:
    """Tell whether `rule` covers the view `view` served at `path` (either may be unknown)."""
    if rule.kind == "path":
        return path is not None and compile_pattern(rule.value).match(path) is not None
    return view is not None and rule.covers_view(view)


def _covered_by_any(rules: Iterable[Rule], path: str | None, view: ResolverMatch | None) -> bool:
    return any(_covers(rule, path, view) for rule in rules)


def _path_of(view: ResolverMatch) -> str | None:
    """Return the path of a view that takes no arguments (as path rules see it), else None."""
    try:
        return site_path(reverse(view.view_name))
    except NoReverseMatch:
        return None


@register(Tags.urls, "verification")
def check_rules(**kwargs: Any) -> list[CheckMessage]:
    """E003-E009, E038, W002, W003, W006, I001: the rules are well formed, name real URLs, cover what they should."""
    errors: list[CheckMessage] = []
    required = _parsed_rules("VERIFICATION_REQUIRED_URLS", conf.REQUIRED_URLS, errors)
    exempt = _parsed_rules("VERIFICATION_EXEMPT_URLS", conf.EXEMPT_URLS, errors)
    urlconf = _read_urlconf()
    if urlconf is None:
        return errors
    for setting, rules in zip(RULE_SETTINGS, (required, exempt), strict=True):
        for rule in rules:
            if rule.kind == "name" and rule.value not in urlconf.names:
                errors.append(
                    Error(
                        f"{setting}: there is no URL named {rule.value!r}.",
                        hint="Use the name as in reverse(), with its namespace ('shop:cart').",
                        id="verification.E007",
                    )
                )
            elif rule.kind == "namespace" and rule.value not in urlconf.namespaces:
                errors.append(
                    Error(
                        f"{setting}: there is no URL namespace {rule.value!r}.",
                        hint="Use an instance or application namespace of include(), as in 'shop:*'.",
                        id="verification.E008",
                    )
                )
    for rule in exempt:
        if rule.kind == "path" and all(compile_pattern(rule.value).match(path) for path in _SAMPLE_PATHS):
            errors.append(
                CheckWarning(
                    f"VERIFICATION_EXEMPT_URLS: {rule.value!r} exempts every path, so nothing is protected.",
                    hint="Exempt only the paths that need it, such as '^/help/'.",
                    id="verification.W006",
                )
            )
    url = login_url()
    login_path = site_path(url) if url is not None else None
    login_view = resolve_site_path(url) if url is not None else None
    errors += _check_coverage(required, exempt, urlconf, login_path, login_view)
    errors += _check_login_not_required(required, exempt, urlconf, login_view)
    return errors


def _check_coverage(
    required: list[Rule],
    exempt: list[Rule],
    urlconf: _URLconfContents,
    login_path: str | None,
    login_view: ResolverMatch | None,
) -> list[CheckMessage]:
    """E038, W002, W003: the pages that stay exempt whatever the rules say, and rules that cover them."""
    messages: list[CheckMessage] = []
    active = bool(required) or index_of(MIDDLEWARE_PATH, list(settings.MIDDLEWARE)) is not None
    try:
        reverse("verification:phone")
    except NoReverseMatch:
        if active:
            messages.append(
                Error(
                    "The verification pages are not in the URLconf: there is nowhere to send users to verify.",
                    hint="Add path('verify/', include('verification.urls')) to your ROOT_URLCONF.",
                    id="verification.E038",
                )
            )
    # An exemption that covers these pages too says the operator knows: no warning then. Nor for a login
    # page exempt by name whatever LOGIN_URL is (the admin's): `"admin:*"` plainly leaves it open, as it
    # leaves logout.
    login_exempted = _covered_by_any(exempt, login_path, login_view) or (
        login_view is not None and NEVER_ENFORCED.contains(login_view)
    )
    login_exemption = login_view.view_name if login_view is not None else f"^{re.escape(login_path or '/')}$"
    verification_pages = [
        (_path_of(view), view)
        for view in urlconf.views
        if VERIFICATION_NAMESPACE in view.app_names or VERIFICATION_NAMESPACE in view.namespaces
    ]
    for rule in required:
        label = rule.label
        if not login_exempted and _covers(rule, login_path, login_view):
            messages.append(
                CheckWarning(
                    f"VERIFICATION_REQUIRED_URLS: {label!r} covers LOGIN_URL ({login_path}), which stays exempt.",
                    hint=f"Narrow the rule, or add '{login_exemption}' to VERIFICATION_EXEMPT_URLS to say so "
                    "explicitly.",
                    id="verification.W002",
                )
            )
        covered = [(path, view) for path, view in verification_pages if _covers(rule, path, view)]
        if covered:
            warn = not all(_covered_by_any(exempt, path, view) for path, view in covered)
        else:
            # Without the pages in the URLconf (E038), only the namespace's own exemption says it.
            warn = (
                rule.kind != "path"
                and rule.value.split(":")[0] == VERIFICATION_NAMESPACE
                and not any(other.kind == "namespace" and other.value == VERIFICATION_NAMESPACE for other in exempt)
            )
        if warn:
            messages.append(
                CheckWarning(
                    f"VERIFICATION_REQUIRED_URLS: {label!r} covers the verification pages, which stay exempt.",
                    hint=f"Narrow the rule, or add '{VERIFICATION_NAMESPACE}:*' to VERIFICATION_EXEMPT_URLS "
                    "to say so explicitly; the verification pages can never require verification.",
                    id="verification.W003",
                )
            )
    return messages


def _check_login_not_required(
    required: list[Rule], exempt: list[Rule], urlconf: _URLconfContents, login_view: ResolverMatch | None
) -> list[CheckMessage]:
    """I001: a URL-name rule enforces a view marked login_not_required, which rules otherwise leave alone.

    An Info, not a Warning: naming the view is the one way to enforce such a page, so the rule is a
    deliberate choice and `check --deploy --fail-level WARNING` passes with it; the message makes sure
    the operator sees that anonymous users will now be sent to log in before that page.
    """
    messages: list[CheckMessage] = []
    for rule in required:
        if rule.kind != "name":
            continue
        views = urlconf.views_by_name.get(rule.value, [])
        if any(_enforced_despite_login_not_required(view, exempt, login_view) for view in views):
            messages.append(
                Info(
                    f"VERIFICATION_REQUIRED_URLS: {rule.value!r} names a view marked login_not_required. The rule "
                    "wins: anonymous users are sent to log in there, and logged-in users to verify.",
                    hint="Views marked login_not_required (Django's password reset, a sign-up page) are exempt "
                    "from path and namespace rules; only a URL-name rule enforces them. Keep the rule if that page "
                    "must need a verified phone; otherwise remove it.",
                    id="verification.I001",
                )
            )
    return messages


def _enforced_despite_login_not_required(
    view: ResolverMatch, exempt: list[Rule], login_view: ResolverMatch | None
) -> bool:
    """Tell whether the middleware enforces `view`, marked login_not_required, because a name rule names it."""
    if getattr(view.func, LOGIN_REQUIRED_ATTRIBUTE, True) or getattr(view.func, VIEW_ATTRIBUTE, None) is False:
        return False
    if NEVER_ENFORCED.contains(view) or (login_view is not None and view.view_name == login_view.view_name):
        return False
    return not _covered_by_any(exempt, _path_of(view), view)
