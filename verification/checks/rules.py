"""System checks of the URL rules.

- E003 VERIFICATION_REQUIRED_URLS or VERIFICATION_EXEMPT_URLS is not a list or tuple.
- E004 a rule has the wrong form.
- E005 a path rule is not a valid regular expression.
- E006 a path rule can never match (a path always starts with "/").
- E007 a rule names a URL that does not exist.
- E008 a rule names a namespace that does not exist.
- E009 a rule's `max_age` is not a whole number of seconds, 1 or more.
- E038 the verification URLs (`verification:phone`) are not in the URLconf.
- W002 a protection rule covers LOGIN_URL (it stays exempt).
- W003 a protection rule covers the verification views (they stay exempt).
- W006 an exemption covers every path: the protection rules protect nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured, ViewDoesNotExist
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from verification._path_index import compile_pattern, literal_prefix
from verification.checks.middleware import MIDDLEWARE_PATH, index_of
from verification.conf import conf
from verification.exceptions import InvalidRule
from verification.paths import VERIFICATION_NAMESPACE, login_url, resolve_site_path, site_path
from verification.rules import Rule, parse_rule

__all__ = ["check_rules"]

RULE_SETTINGS = ("VERIFICATION_REQUIRED_URLS", "VERIFICATION_EXEMPT_URLS")
#: Paths an exemption must not cover all of: if it does, it covers every path.
_SAMPLE_PATHS = ("/", "/a/", "/polls/1/", "/zz-check/yy/x.json")


def _url_names_and_namespaces() -> tuple[set[str], set[str]] | None:
    """Return every qualified URL name and namespace of the URLconf, or None if it does not load."""
    names: set[str] = set()
    namespaces: set[str] = set()

    def walk(patterns: Iterable[URLPattern | URLResolver], prefixes: set[str]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = prefixes
                if pattern.namespace:
                    own = {pattern.namespace, pattern.app_name} - {None, ""}
                    inner = {f"{prefix}:{space}" if prefix else str(space) for prefix in prefixes for space in own}
                    namespaces.update(inner)
                walk(pattern.url_patterns, inner)
            elif pattern.name:
                names.update(f"{prefix}:{pattern.name}" if prefix else pattern.name for prefix in prefixes)

    try:
        walk(get_resolver().url_patterns, {""})
    except (ImportError, ImproperlyConfigured, ViewDoesNotExist):
        return None  # Django's own URL checks report it.
    return names, namespaces


def _parsed_rules(setting: str, entries: object, errors: list[CheckMessage]) -> list[Rule]:
    if not isinstance(entries, list | tuple):
        errors.append(
            Error(
                f"{setting} must be a list or tuple of rules, not {type(entries).__name__}.",
                hint="Write a list: regular expressions ('^/account/'), URL names ('polls:vote'), "
                "namespaces ('polls:*') or dicts with 'path' or 'name' and 'max_age'.",
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
    "verification.E004": "A rule is a regular expression starting with '^' or '/', a URL name ('polls:vote'), "
    "a namespace ('polls:*'), or {'path': ..., 'max_age': seconds} / {'name': ..., 'max_age': seconds}.",
    "verification.E005": "Fix the regular expression; test it with re.match(pattern, '/some/path/').",
    "verification.E009": "Give 'max_age' as a whole number of seconds (300 for five minutes), or leave it out.",
}


def _login_path() -> str | None:
    url = login_url()
    return site_path(url) if url is not None else None


def _covers(rule: Rule, path: str | None, view_names: Iterable[str]) -> bool:
    if rule.kind == "path":
        return path is not None and compile_pattern(rule.value).match(path) is not None
    names = list(view_names)
    if rule.kind == "name":
        return rule.value in names
    return any(name.startswith(rule.value + ":") for name in names)


def _login_view_names(path: str | None) -> list[str]:
    match = resolve_site_path(path) if path is not None else None
    return [match.view_name] if match is not None else []


@register(Tags.urls, "verification")
def check_rules(**kwargs: Any) -> list[CheckMessage]:
    """E003-E009, E038, W002, W003, W006: the rules are well formed, name real URLs, and cover what they should."""
    errors: list[CheckMessage] = []
    required = _parsed_rules("VERIFICATION_REQUIRED_URLS", conf.REQUIRED_URLS, errors)
    exempt = _parsed_rules("VERIFICATION_EXEMPT_URLS", conf.EXEMPT_URLS, errors)
    known = _url_names_and_namespaces()
    if known is None:
        return errors
    names, namespaces = known
    for setting, rules in zip(RULE_SETTINGS, (required, exempt), strict=True):
        for rule in rules:
            if rule.kind == "name" and rule.value not in names:
                errors.append(
                    Error(
                        f"{setting}: there is no URL named {rule.value!r}.",
                        hint="Use the name as in reverse(), with its namespace ('polls:vote').",
                        id="verification.E007",
                    )
                )
            elif rule.kind == "namespace" and rule.value not in namespaces:
                errors.append(
                    Error(
                        f"{setting}: there is no URL namespace {rule.value!r}.",
                        hint="Use an instance or application namespace of include(), as in 'polls:*'.",
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
    errors += _check_coverage(required, names)
    return errors


def _check_coverage(required: list[Rule], names: set[str]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    verification_names = sorted(name for name in names if name.startswith(f"{VERIFICATION_NAMESPACE}:"))
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
    login_path = _login_path()
    login_names = _login_view_names(login_path)
    verification_paths: list[tuple[str, str]] = []
    for name in verification_names:
        try:
            verification_paths.append((name, site_path(reverse(name)) or ""))
        except NoReverseMatch:
            continue  # takes arguments: covered by the name checks
    for rule in required:
        label = rule.label
        if _covers(rule, login_path, login_names):
            messages.append(
                CheckWarning(
                    f"VERIFICATION_REQUIRED_URLS: {label!r} covers LOGIN_URL ({login_path}), which stays exempt.",
                    hint="Narrow the rule, or add an exemption to say so explicitly.",
                    id="verification.W002",
                )
            )
        covered = [
            name
            for name, path in verification_paths
            if _covers(rule, path, [name]) or (rule.kind == "namespace" and rule.value == VERIFICATION_NAMESPACE)
        ]
        if covered or (rule.kind != "path" and rule.value.split(":")[0] == VERIFICATION_NAMESPACE):
            messages.append(
                CheckWarning(
                    f"VERIFICATION_REQUIRED_URLS: {label!r} covers the verification pages, which stay exempt.",
                    hint="Narrow the rule; the verification pages can never require verification.",
                    id="verification.W003",
                )
            )
    return messages
