"""System checks for the verification settings: `verification.E0xx` errors, `verification.W0xx` warnings.

Ids are never reused for another meaning. E020-E029 and W020-W029 belong to the Vonage backend's
`check_configuration()`; a backend's own checks are added to these.

Errors:
- E001 VerificationRequiredMiddleware is missing while VERIFICATION_REQUIRED_URLS has rules.
- E002 AuthenticationMiddleware is missing, or after VerificationRequiredMiddleware.
- E003 VERIFICATION_REQUIRED_URLS or VERIFICATION_EXEMPT_URLS is not a list or tuple.
- E004 a rule has the wrong form.
- E005 a path rule is not a valid regular expression.
- E006 a path rule can never match (a path always starts with "/").
- E007 a rule names a URL that does not exist.
- E008 a rule names a namespace that does not exist.
- E009 a rule's `max_age` is not a whole number of seconds, 1 or more.
- E010 VERIFICATION_MAX_AGE is neither None nor a whole number of seconds, 1 or more.
- E011 VERIFICATION_BACKEND cannot be imported.
- E012 VERIFICATION_BACKEND is not a BaseVerifyBackend subclass.
- E013 VERIFICATION_CODE_LENGTH is not a whole number from 4 to 10.
- E014 VERIFICATION_CODE_TTL is not a whole number of seconds from 1 to 600.
- E015 VERIFICATION_MAX_ATTEMPTS, E016 VERIFICATION_SEND_LIMIT, E017 VERIFICATION_SEND_WINDOW,
  E018 VERIFICATION_IP_SEND_LIMIT, E019 VERIFICATION_IP_SEND_WINDOW: not a whole number, 1 or more.
- E030 VERIFICATION_RESEND_COOLDOWN is not a whole number of seconds, 0 or more.
- E031 VERIFICATION_CHANNELS is not a non-empty list of distinct "sms", "voice", "whatsapp".
- E032 VERIFICATION_ALLOWED_COUNTRIES is neither None nor a non-empty list of ISO 3166 region codes.
- E033 VERIFICATION_DEFAULT_REGION is neither None nor an ISO 3166 region code.
- E034 VERIFICATION_BRAND is not a non-empty string.
- E035 VERIFICATION_CLIENT_IP_HEADER is neither None nor a non-empty string.
- E036 VONAGE_TIMEOUT is not a number of seconds above 0.
- E037 a setting has the wrong type (settings without a check of their own).
- E038 the verification URLs (`verification:phone`) are not in the URLconf.
- E039 the backend can deliver none of VERIFICATION_CHANNELS.
- E040 VERIFICATION_IPV6_PREFIX is not a whole number from 32 to 128.
- E041 VERIFICATION_COUNTRY_SEND_LIMITS is not a dict.
- E042 a VERIFICATION_COUNTRY_SEND_LIMITS key is not an ISO 3166 region code, "001" or "*".
- E043 a VERIFICATION_COUNTRY_SEND_LIMITS limit is not a whole number, 1 or more.
- E044 VERIFICATION_COUNTRY_SEND_WINDOW is not a whole number of seconds, 1 or more.
- E045 VERIFICATION_GLOBAL_SEND_LIMIT is neither None nor a whole number, 1 or more.
- E046 VERIFICATION_GLOBAL_SEND_WINDOW is not a whole number of seconds, 1 or more.
- E047 VERIFICATION_NUMBER_CHANGE_MAX_AGE is not a whole number of seconds, 1 or more.

Warnings:
- W001 the console or locmem backend while DEBUG is False: no code reaches a phone.
- W002 a protection rule covers LOGIN_URL (it stays exempt).
- W003 a protection rule covers the verification views (they stay exempt).
- W004 VERIFICATION_DEFAULT_REGION is not among VERIFICATION_ALLOWED_COUNTRIES.
- W005 VERIFICATION_CLIENT_IP_HEADER does not look like a request.META key.
- W006 an exemption covers every path: the protection rules protect nothing.
- W007 (deploy only) DEBUG is False and no toll-fraud circuit breaker is set
  (VERIFICATION_COUNTRY_SEND_LIMITS, VERIFICATION_GLOBAL_SEND_LIMIT).
- W008 a database has ATOMIC_REQUESTS: the send budgets' locks would be held during the provider call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured, ViewDoesNotExist
from django.shortcuts import resolve_url
from django.urls import (
    NoReverseMatch,
    Resolver404,
    URLPattern,
    URLResolver,
    get_resolver,
    get_script_prefix,
    resolve,
    reverse,
)
from django.utils.module_loading import import_string

from verification.conf import DEFAULTS, conf
from verification.rules import InvalidRule, Rule, compile_pattern, literal_prefix, parse_rule

MIDDLEWARE_PATH = "verification.middleware.VerificationRequiredMiddleware"
AUTHENTICATION_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
CHANNEL_CHOICES = ("sms", "voice", "whatsapp")
#: Modules of backends that never reach a phone.
LOCAL_BACKEND_MODULES = frozenset({"verification.backends.console", "verification.backends.locmem"})
RULE_SETTINGS = ("VERIFICATION_REQUIRED_URLS", "VERIFICATION_EXEMPT_URLS")
#: Paths an exemption must not cover all of: if it does, it covers every path.
_SAMPLE_PATHS = ("/", "/a/", "/polls/1/", "/zz-check/yy/x.json")
_META_KEY = re.compile(r"^(HTTP_[A-Z0-9_]+|REMOTE_ADDR)$")


def _index_of(class_path: str, middleware: Sequence[str]) -> int | None:
    """Return the position of `class_path`, or of a subclass of it, in MIDDLEWARE."""
    try:
        base = import_string(class_path)
    except ImportError:
        return None
    for index, path in enumerate(middleware):
        try:
            candidate = import_string(path)
        except ImportError:
            continue
        if isinstance(candidate, type) and issubclass(candidate, base):
            return index
    return None


@register(Tags.security, "verification")
def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    """E001, E002: the middleware is installed, after AuthenticationMiddleware."""
    middleware = list(settings.MIDDLEWARE)
    ours = _index_of(MIDDLEWARE_PATH, middleware)
    if ours is None:
        if isinstance(conf.REQUIRED_URLS, list | tuple) and conf.REQUIRED_URLS:
            return [
                Error(
                    "VERIFICATION_REQUIRED_URLS has rules, but VerificationRequiredMiddleware is not in MIDDLEWARE: "
                    "nothing is protected.",
                    hint=f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE, after '{AUTHENTICATION_MIDDLEWARE_PATH}'.",
                    id="verification.E001",
                )
            ]
        return []
    authentication = _index_of(AUTHENTICATION_MIDDLEWARE_PATH, middleware)
    if authentication is None or authentication > ours:
        return [
            Error(
                "VerificationRequiredMiddleware needs AuthenticationMiddleware before it in MIDDLEWARE.",
                hint=f"Put '{AUTHENTICATION_MIDDLEWARE_PATH}' before '{MIDDLEWARE_PATH}' in MIDDLEWARE.",
                id="verification.E002",
            )
        ]
    return []


# -- rules ---------------------------------------------------------------------------------------


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
    try:
        url = str(resolve_url(settings.LOGIN_URL))
    except NoReverseMatch:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    return _strip_script_prefix(parts.path)


def _strip_script_prefix(path: str) -> str:
    prefix = get_script_prefix()
    return "/" + path[len(prefix) :] if prefix != "/" and path.startswith(prefix) else path


def _covers(rule: Rule, path: str | None, view_names: Iterable[str]) -> bool:
    if rule.kind == "path":
        return path is not None and compile_pattern(rule.value).match(path) is not None
    names = list(view_names)
    if rule.kind == "name":
        return rule.value in names
    return any(name.startswith(rule.value + ":") for name in names)


def _login_view_names(path: str | None) -> list[str]:
    if path is None:
        return []
    try:
        match = resolve(path)
    except Resolver404:
        return []
    return [match.view_name]


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
    verification_names = sorted(name for name in names if name.startswith("verification:"))
    active = bool(required) or _index_of(MIDDLEWARE_PATH, list(settings.MIDDLEWARE)) is not None
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
            verification_paths.append((name, _strip_script_prefix(reverse(name))))
        except NoReverseMatch:
            continue  # takes arguments: covered by the name checks
    for rule in required:
        label = rule.value if rule.kind != "namespace" else f"{rule.value}:*"
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
            if _covers(rule, path, [name]) or (rule.kind == "namespace" and rule.value == "verification")
        ]
        if covered or (rule.kind != "path" and rule.value.split(":")[0] == "verification"):
            messages.append(
                CheckWarning(
                    f"VERIFICATION_REQUIRED_URLS: {label!r} covers the verification pages, which stay exempt.",
                    hint="Narrow the rule; the verification pages can never require verification.",
                    id="verification.W003",
                )
            )
    return messages


# -- backend ------------------------------------------------------------------------------------------


@register(Tags.security, "verification")
def check_backend(**kwargs: Any) -> list[CheckMessage]:
    """E011, E012, E039, W001 and the backend's own checks."""
    from verification.backends.base import BaseVerifyBackend

    path = conf.BACKEND
    try:
        backend_class = import_string(path)
    except (ImportError, ValueError, TypeError, AttributeError) as error:
        return [
            Error(
                f"VERIFICATION_BACKEND {path!r} cannot be imported: {error}.",
                hint="Use a dotted path such as 'verification.backends.vonage.VonageVerifyBackend'.",
                id="verification.E011",
            )
        ]
    if not isinstance(backend_class, type) or not issubclass(backend_class, BaseVerifyBackend):
        return [
            Error(
                f"VERIFICATION_BACKEND {path!r} is not a Verify backend.",
                hint="Point it at a subclass of verification.backends.base.BaseVerifyBackend.",
                id="verification.E012",
            )
        ]
    messages: list[CheckMessage] = []
    if not settings.DEBUG and any(klass.__module__ in LOCAL_BACKEND_MODULES for klass in backend_class.__mro__):
        messages.append(
            CheckWarning(
                f"VERIFICATION_BACKEND is {path!r} while DEBUG is False: no code reaches a phone.",
                hint="Use 'verification.backends.vonage.VonageVerifyBackend' in production.",
                id="verification.W001",
            )
        )
    channels = conf.CHANNELS
    if _is_channel_list(channels) and not set(channels) & set(backend_class.channels):
        messages.append(
            Error(
                f"VERIFICATION_BACKEND {path!r} can deliver none of VERIFICATION_CHANNELS {list(channels)!r}.",
                hint=f"Use a channel it offers: {', '.join(backend_class.channels)}.",
                id="verification.E039",
            )
        )
    messages += backend_class.check_configuration()
    return messages


# -- every other setting ---------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_channel_list(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(channel, str) and channel in CHANNEL_CHOICES for channel in value)
        and len(set(value)) == len(value)
    )


def _is_region(value: object) -> bool:
    return isinstance(value, str) and value in phonenumbers.SUPPORTED_REGIONS


#: Keys of VERIFICATION_COUNTRY_SEND_LIMITS besides region codes: non-geographic numbers, every other region.
_BUDGET_REGION_EXTRAS = frozenset({"001", "*"})


def _is_optional_max_age(value: object) -> bool:
    return value is None or (_is_int(value) and value >= 1)  # type: ignore[operator]


def _int_between(low: int, high: int | None = None) -> Callable[[object], bool]:
    def valid(value: object) -> bool:
        return _is_int(value) and value >= low and (high is None or value <= high)  # type: ignore[operator]

    return valid


#: setting -> (is it valid?, check id, what it must be)
SETTING_CHECKS: dict[str, tuple[Callable[[object], bool], str, str]] = {
    "VERIFICATION_MAX_AGE": (_is_optional_max_age, "E010", "None or a whole number of seconds, 1 or more"),
    "VERIFICATION_CODE_LENGTH": (_int_between(4, 10), "E013", "a whole number from 4 to 10"),
    "VERIFICATION_CODE_TTL": (_int_between(1, 600), "E014", "a whole number of seconds from 1 to 600"),
    "VERIFICATION_MAX_ATTEMPTS": (_int_between(1), "E015", "a whole number, 1 or more"),
    "VERIFICATION_SEND_LIMIT": (_int_between(1), "E016", "a whole number, 1 or more"),
    "VERIFICATION_SEND_WINDOW": (_int_between(1), "E017", "a whole number of seconds, 1 or more"),
    "VERIFICATION_IP_SEND_LIMIT": (_int_between(1), "E018", "a whole number, 1 or more"),
    "VERIFICATION_IP_SEND_WINDOW": (_int_between(1), "E019", "a whole number of seconds, 1 or more"),
    "VERIFICATION_RESEND_COOLDOWN": (_int_between(0), "E030", "a whole number of seconds, 0 or more"),
    "VERIFICATION_CHANNELS": (
        _is_channel_list,
        "E031",
        "a non-empty list of distinct channels among " + ", ".join(f"'{c}'" for c in CHANNEL_CHOICES),
    ),
    "VERIFICATION_ALLOWED_COUNTRIES": (
        lambda value: (
            value is None
            or (isinstance(value, list | tuple) and bool(value) and all(_is_region(code) for code in value))
        ),
        "E032",
        "None or a non-empty list of ISO 3166 region codes in capitals, such as ['GB', 'IE']",
    ),
    "VERIFICATION_DEFAULT_REGION": (
        lambda value: value is None or _is_region(value),
        "E033",
        "None or an ISO 3166 region code in capitals, such as 'GB'",
    ),
    "VERIFICATION_BRAND": (lambda value: isinstance(value, str) and bool(value.strip()), "E034", "a non-empty string"),
    "VERIFICATION_CLIENT_IP_HEADER": (
        lambda value: value is None or (isinstance(value, str) and bool(value)),
        "E035",
        "None or a request.META key such as 'HTTP_X_FORWARDED_FOR'",
    ),
    "VONAGE_TIMEOUT": (
        lambda value: isinstance(value, int | float) and not isinstance(value, bool) and value > 0,
        "E036",
        "a number of seconds above 0, such as 10.0",
    ),
    "VERIFICATION_IPV6_PREFIX": (
        _int_between(32, 128),
        "E040",
        "a prefix length from 32 to 128: 64 budgets one subscriber's network; 56 or 48 if your users' "
        "providers hand out larger ones",
    ),
    "VERIFICATION_COUNTRY_SEND_WINDOW": (_int_between(1), "E044", "a whole number of seconds, 1 or more"),
    "VERIFICATION_GLOBAL_SEND_LIMIT": (
        lambda value: value is None or _int_between(1)(value),
        "E045",
        "None (no site-wide budget) or a whole number, 1 or more",
    ),
    "VERIFICATION_GLOBAL_SEND_WINDOW": (_int_between(1), "E046", "a whole number of seconds, 1 or more"),
    "VERIFICATION_NUMBER_CHANGE_MAX_AGE": (
        _int_between(1),
        "E047",
        "a whole number of seconds, 1 or more: how recently a session must have verified the number on "
        "file before it may replace it",
    ),
}
#: Checked elsewhere (the rules above; the backend's own checks; the send budgets below) or free-form.
_CHECKED_ELSEWHERE = frozenset(
    {
        "VERIFICATION_REQUIRED_URLS",
        "VERIFICATION_EXEMPT_URLS",
        "VERIFICATION_BACKEND",
        "VERIFICATION_COUNTRY_SEND_LIMITS",
    }
)


@register("verification")
def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """E010, E013-E019, E030-E037, E040-E047, W004, W005: every setting has the right type and range."""
    messages: list[CheckMessage] = _check_country_send_limits(conf.COUNTRY_SEND_LIMITS)
    for name, default in DEFAULTS.items():
        if name in _CHECKED_ELSEWHERE:
            continue
        value = getattr(settings, name, default)
        if name in SETTING_CHECKS:
            valid, check_id, expected = SETTING_CHECKS[name]
            if not valid(value):
                messages.append(
                    Error(
                        f"{name} = {value!r} is not valid.",
                        hint=f"{name} must be {expected}.",
                        id=f"verification.{check_id}",
                    )
                )
        elif default is not None and not isinstance(value, type(default)):
            messages.append(
                Error(
                    f"{name} = {value!r} has the wrong type.",
                    hint=f"{name} must be a {type(default).__name__}, like its default {default!r}.",
                    id="verification.E037",
                )
            )
    region, countries = conf.DEFAULT_REGION, conf.ALLOWED_COUNTRIES
    if _is_region(region) and isinstance(countries, list | tuple) and countries and region not in countries:
        messages.append(
            CheckWarning(
                f"VERIFICATION_DEFAULT_REGION {region!r} is not among VERIFICATION_ALLOWED_COUNTRIES: "
                "numbers typed without a country code are always refused.",
                hint=f"Add {region!r} to VERIFICATION_ALLOWED_COUNTRIES, or change VERIFICATION_DEFAULT_REGION.",
                id="verification.W004",
            )
        )
    header = conf.CLIENT_IP_HEADER
    if isinstance(header, str) and header and not _META_KEY.match(header):
        messages.append(
            CheckWarning(
                f"VERIFICATION_CLIENT_IP_HEADER {header!r} does not look like a request.META key.",
                hint="Header X-Forwarded-For is request.META['HTTP_X_FORWARDED_FOR']: use that spelling.",
                id="verification.W005",
            )
        )
    return messages


def _check_country_send_limits(limits: object) -> list[CheckMessage]:
    """E041-E043: VERIFICATION_COUNTRY_SEND_LIMITS maps region codes (or "001", "*") to limits of 1 or more."""
    example = "{'GB': 100, '*': 20}"
    if not isinstance(limits, Mapping):
        return [
            Error(
                f"VERIFICATION_COUNTRY_SEND_LIMITS = {limits!r} is not a dict.",
                hint=f"Map region codes to sends per VERIFICATION_COUNTRY_SEND_WINDOW, such as {example}; "
                "{} turns the per-region budgets off.",
                id="verification.E041",
            )
        ]
    messages: list[CheckMessage] = []
    for region, limit in limits.items():
        if not (_is_region(region) or region in _BUDGET_REGION_EXTRAS):
            messages.append(
                Error(
                    f"VERIFICATION_COUNTRY_SEND_LIMITS: {region!r} is not a region code.",
                    hint="Use ISO 3166 region codes in capitals ('GB'), '001' for non-geographic numbers "
                    "(+800, +882...), or '*' for every region not listed.",
                    id="verification.E042",
                )
            )
        if not _int_between(1)(limit):
            messages.append(
                Error(
                    f"VERIFICATION_COUNTRY_SEND_LIMITS[{region!r}] = {limit!r} is not valid.",
                    hint="A limit is a whole number of sends, 1 or more. To send no codes to a region at all, "
                    "leave it out of VERIFICATION_ALLOWED_COUNTRIES instead.",
                    id="verification.E043",
                )
            )
    return messages


@register(Tags.security, "verification", deploy=True)
def check_circuit_breakers(**kwargs: Any) -> list[CheckMessage]:
    """W007: in production, at least one toll-fraud circuit breaker caps what the site can be made to send."""
    if settings.DEBUG or conf.COUNTRY_SEND_LIMITS or conf.GLOBAL_SEND_LIMIT is not None:
        return []
    return [
        CheckWarning(
            "No toll-fraud circuit breaker is set: SMS pumping through many accounts, addresses and numbers "
            "is capped only by your provider's bill.",
            hint="Set VERIFICATION_COUNTRY_SEND_LIMITS (such as {'GB': 100, '*': 20}) and/or "
            "VERIFICATION_GLOBAL_SEND_LIMIT to a few times your busiest hour's sends.",
            id="verification.W007",
        )
    ]


@register("verification")
def check_atomic_requests(**kwargs: Any) -> list[CheckMessage]:
    """W008: no database wraps requests in a transaction, which would hold the send locks across the provider call."""
    atomic = sorted(alias for alias, options in settings.DATABASES.items() if options.get("ATOMIC_REQUESTS"))
    if not atomic:
        return []
    return [
        CheckWarning(
            f"ATOMIC_REQUESTS is on for {', '.join(repr(alias) for alias in atomic)}: the send budgets' row locks "
            "would be held until the request ends, across the call to the Verify provider, so concurrent sends "
            "(every send, with VERIFICATION_GLOBAL_SEND_LIMIT) wait for each other's provider round trip.",
            hint="Turn ATOMIC_REQUESTS off, or wrap the verification URLs' views in transaction.non_atomic_requests.",
            id="verification.W008",
        )
    ]
