"""Compile the protected and exempt URL rules once, and answer "does this request need verification?".

Rule syntax (VERIFICATION_REQUIRED_URLS and VERIFICATION_EXEMPT_URLS):

- a string starting with "^" or "/" is a regular expression matched (`re.match`, from the start) against
  the decoded `path_info`: "/shop/" covers everything under /shop/, add "$" to match one path only;
- any other string is a URL name ("shop:cart", "login") or a whole namespace ("shop:*", "admin:auth:*");
- a dict `{"path": regex, "max_age": 300}` or `{"name": ..., "max_age": 300}` asks for a verification at
  most `max_age` seconds old on those URLs (step-up), overriding VERIFICATION_MAX_AGE.

When several protections match, the strictest `max_age` applies. An exemption wins over every protection.

Always exempt (so a redirect loop is impossible, even with `r"^/"`): `verification.paths.NEVER_ENFORCED`
(the flow's views, every URL named "logout", the admin's login), the LOGIN_URL view, STATIC_URL and
MEDIA_URL, and views marked `verification_not_required`. Views marked with Django's `login_not_required`
(its LoginView and password-reset views, a sign-up page) are pages for anonymous users: only a URL-name
rule naming them protects them (check I001), never a path or namespace rule that happens to cover them.

Spellings: a path rule protects a path if it matches any spelling of it that Django might still route
to a view (`verification.paths.path_spellings`), each also with a trailing slash added. A path
exemption applies only if it matches every one of those spellings (but the added trailing slash), and
never to a path whose decoding does not settle. Name rules use the resolved view
(`request.resolver_match`), so no spelling gets around them.

Speed: rules are compiled when the middleware is created and on first use after a settings change,
never per request. Names and namespaces are set lookups; regular expressions are indexed by the literal
folder they must start with (`verification._path_index`), so a request tries only the rules that could
match its path, however many there are; a plain prefix ("^/account/") is a `str.startswith`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from verification._path_index import PathIndex, max_age_order
from verification.conf import conf
from verification.exceptions import InvalidRule
from verification.paths import (
    NEVER_ENFORCED,
    app_qualified_name,
    enclosing_namespaces,
    has_other_spellings,
    is_named,
    login_url,
    path_spellings,
    resolve_site_path,
    served_prefix,
)

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.urls import ResolverMatch

__all__ = [
    "LOGIN_REQUIRED_ATTRIBUTE",
    "VIEW_ATTRIBUTE",
    "CompiledRules",
    "Requirement",
    "Rule",
    "compile_rules",
    "get_rules",
    "parse_rule",
    "parse_rules",
    "requirement_for",
]

#: Settings whose change recompiles the rules.
WATCHED_SETTINGS = frozenset(
    {
        "VERIFICATION_REQUIRED_URLS",
        "VERIFICATION_EXEMPT_URLS",
        "VERIFICATION_MAX_AGE",
        "LOGIN_URL",
        "STATIC_URL",
        "MEDIA_URL",
        "ROOT_URLCONF",
        "FORCE_SCRIPT_NAME",
    }
)
#: The view attribute set by `verification_not_required` (False) and `verification_required` (True).
VIEW_ATTRIBUTE = "verification_required"
#: The view attribute Django's `login_not_required` sets to False (read as LoginRequiredMiddleware does).
LOGIN_REQUIRED_ATTRIBUTE = "login_required"

RuleKind = Literal["path", "name", "namespace"]


@dataclass(frozen=True)
class Rule:
    """One entry of VERIFICATION_REQUIRED_URLS or VERIFICATION_EXEMPT_URLS, parsed.

    `value` is the regular expression (kind "path"), the qualified URL name ("name") or the namespace
    path without ":*" ("namespace"); `max_age` is the entry's own freshness in seconds, if any.
    """

    kind: RuleKind
    value: str
    max_age: int | None = None

    @property
    def label(self) -> str:
        """The rule as written in settings: the pattern, the URL name, or "namespace:*"."""
        return f"{self.value}:*" if self.kind == "namespace" else self.value

    def covers_view(self, match: ResolverMatch) -> bool:
        """Tell whether this name or namespace rule covers the resolved view `match` (a path rule never does)."""
        if self.kind == "name":
            return is_named((self.value,), match)
        return self.kind == "namespace" and self.value in enclosing_namespaces(match)


@dataclass(frozen=True)
class Requirement:
    """What a request needs to pass: a verification at most `max_age` seconds old (None: any age)."""

    max_age: int | None


def parse_rule(entry: object) -> Rule:
    """Parse one settings entry into a Rule, or raise InvalidRule (its regex is not compiled here)."""
    max_age: int | None = None
    if isinstance(entry, dict):
        unknown = set(entry) - {"path", "name", "max_age"}
        if unknown or ("path" in entry) == ("name" in entry):
            raise InvalidRule(
                f"{entry!r} must have exactly one of the keys 'path' or 'name', and optionally 'max_age'.",
                "verification.E004",
            )
        max_age = entry.get("max_age")
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1):
            raise InvalidRule(
                f"{entry!r}: 'max_age' must be a whole number of seconds, 1 or more.", "verification.E009"
            )
        if "path" in entry:
            pattern = entry["path"]
            if not isinstance(pattern, str) or not pattern:
                raise InvalidRule(f"{entry!r}: 'path' must be a non-empty regular expression.", "verification.E004")
            return Rule("path", pattern, max_age)
        entry = entry["name"]
        if not isinstance(entry, str) or entry.startswith(("^", "/")):
            raise InvalidRule(f"{entry!r}: 'name' must be a URL name or 'namespace:*'.", "verification.E004")
    if not isinstance(entry, str) or not entry or entry != entry.strip():
        raise InvalidRule(
            f"{entry!r} is not a rule: use a regular expression starting with '^' or '/', a URL name, "
            "'namespace:*', or a dict with 'path' or 'name'.",
            "verification.E004",
        )
    if entry.startswith(("^", "/")):
        return Rule("path", entry, max_age)
    if entry.endswith(":*"):
        namespace = entry[:-2]
        if not namespace or "*" in namespace or any(not part for part in namespace.split(":")):
            raise InvalidRule(f"{entry!r} is not a namespace rule such as 'shop:*'.", "verification.E004")
        return Rule("namespace", namespace, max_age)
    if "*" in entry or any(not part for part in entry.split(":")):
        raise InvalidRule(f"{entry!r} is not a URL name such as 'shop:cart'.", "verification.E004")
    return Rule("name", entry, max_age)


def parse_rules(entries: object, setting: str) -> list[Rule]:
    """Parse a whole rules setting, or raise InvalidRule naming the setting."""
    if not isinstance(entries, list | tuple):
        raise InvalidRule(f"{setting} must be a list or tuple of rules.", "verification.E003")
    rules = []
    for entry in entries:
        try:
            rules.append(parse_rule(entry))
        except InvalidRule as error:
            raise InvalidRule(f"{setting}: {error}", error.check_id) from None
    return rules


class CompiledRules:
    """VERIFICATION_REQUIRED_URLS and VERIFICATION_EXEMPT_URLS compiled for fast per-request decisions."""

    def __init__(self, required: Sequence[Rule], exempt: Sequence[Rule], default_max_age: int | None) -> None:
        def order_of(rule: Rule) -> float:
            return max_age_order(rule.max_age if rule.max_age is not None else default_max_age)

        self.required_names: dict[str, float] = {}
        self.required_namespaces: dict[str, float] = {}
        for rule in required:
            if rule.kind != "path":
                table = self.required_names if rule.kind == "name" else self.required_namespaces
                table[rule.value] = min(order_of(rule), table.get(rule.value, math.inf))
        self.required_paths = PathIndex(
            (rule.value, rule.max_age if rule.max_age is not None else default_max_age)
            for rule in required
            if rule.kind == "path"
        )
        self.exempt_names = frozenset(rule.value for rule in exempt if rule.kind == "name")
        self.exempt_namespaces = frozenset(rule.value for rule in exempt if rule.kind == "namespace")
        self.exempt_paths = PathIndex((rule.value, None) for rule in exempt if rule.kind == "path")
        self.has_name_rules = bool(self.required_names or self.required_namespaces)
        self.has_path_rules = bool(self.required_paths)
        self.has_path_exemptions = bool(self.exempt_paths)
        # One Requirement per distinct freshness, built now so a request allocates nothing.
        self._requirements = {
            order: Requirement(None if order == math.inf else int(order))
            for order in {order_of(rule) for rule in required}
        }

        login = login_url()
        self.login_path = urlsplit(login).path if login else None
        login_match = resolve_site_path(login) if login else None
        self.login_view_name = login_match.view_name if login_match is not None else None
        self.exempt_prefixes = tuple(
            prefix for prefix in (served_prefix(settings.STATIC_URL), served_prefix(settings.MEDIA_URL)) if prefix
        )

    # The per-request part: keep it cheap, and never touch request.user or the session.

    def requirement(self, request: HttpRequest, view_func: Callable[..., Any] | None = None) -> Requirement | None:
        """Return what `request` needs to pass, or None when no rule protects it (or it is exempt)."""
        # Every request of the site comes through here, most of them unprotected: the common case is
        # inline, one dictionary lookup for a view outside any namespace.
        best: float | None = None
        if self.has_name_rules:
            match = getattr(request, "resolver_match", None)
            if match is not None:
                best = self.required_names.get(match.view_name)
                if match.namespaces or match.app_names:
                    best = self._match_namespaced(match, best)
        if self.has_path_rules:
            found = self._match_path(request.path_info)
            if found is not None and (best is None or found < best):
                best = found
        if best is None or self._is_exempt(request, view_func):
            return None
        return self._requirements[best]

    def _match_path(self, path: str) -> float | None:
        if has_other_spellings(path):
            return self._match_spellings(path)
        match_path = self.required_paths.match
        best = match_path(path)
        if not path.endswith("/"):
            # A view may answer with or without the trailing slash ("^secret/?$").
            found = match_path(path + "/")
            if found is not None and (best is None or found < best):
                best = found
        return best

    def _match_spellings(self, path: str) -> float | None:
        """Match every spelling of a path that has what makes spellings differ (most paths have none)."""
        match_path = self.required_paths.match
        best: float | None = None
        for spelling in path_spellings(path).spellings:
            for candidate in (spelling,) if spelling.endswith("/") else (spelling, spelling + "/"):
                found = match_path(candidate)
                if found is not None and (best is None or found < best):
                    best = found
        return best

    def _match_namespaced(self, match: ResolverMatch, best: float | None) -> float | None:
        """Return the strictest of `best` and the rules on the view's app-qualified name and namespaces."""
        if self.required_names and match.app_names != match.namespaces and match.url_name:
            # A rule on "shop:cart" covers every instance of the shop app, whatever its namespace.
            found = self.required_names.get(app_qualified_name(match))
            if found is not None and (best is None or found < best):
                best = found
        if self.required_namespaces and match.namespaces:
            for spaces in enclosing_namespaces(match):
                found = self.required_namespaces.get(spaces)
                if found is not None and (best is None or found < best):
                    best = found
        return best

    def _is_exempt(self, request: HttpRequest, view_func: Callable[..., Any] | None) -> bool:
        if view_func is not None and getattr(view_func, VIEW_ATTRIBUTE, None) is False:
            return True
        match = getattr(request, "resolver_match", None)
        if match is not None:
            if NEVER_ENFORCED.contains(match):
                return True
            if self.login_view_name is not None and match.view_name == self.login_view_name:
                return True
            if self.exempt_names and is_named(self.exempt_names, match):
                return True
            if self.exempt_namespaces and any(
                spaces in self.exempt_namespaces for spaces in enclosing_namespaces(match)
            ):
                return True
        if not getattr(view_func, LOGIN_REQUIRED_ATTRIBUTE, True) and (
            match is None or not is_named(self.required_names, match)
        ):
            # A page for anonymous users (Django's password reset, a sign-up page): a verification needs a
            # login first, so a rule that merely covers it would lock them out; a name rule means it.
            return True
        path = request.path
        if path == self.login_path:
            return True
        if self.exempt_prefixes and path.startswith(self.exempt_prefixes):
            spellings, settled = path_spellings(path)
            if settled and any(
                all(spelling.startswith(prefix) for spelling in spellings) for prefix in self.exempt_prefixes
            ):
                return True
        if self.has_path_exemptions:
            # Fail closed: every spelling of the path must be exempt, and the spellings must be all there are.
            spellings, settled = path_spellings(request.path_info)
            return settled and all(self.exempt_paths.match(spelling) is not None for spelling in spellings)
        return False


def compile_rules() -> CompiledRules:
    """Compile the current settings' rules, or raise ImproperlyConfigured (the system checks say more)."""
    try:
        required = parse_rules(conf.REQUIRED_URLS, "VERIFICATION_REQUIRED_URLS")
        exempt = parse_rules(conf.EXEMPT_URLS, "VERIFICATION_EXEMPT_URLS")
        return CompiledRules(required, exempt, conf.MAX_AGE)
    except InvalidRule as error:
        raise ImproperlyConfigured(f"{error} ({error.check_id})") from error


@functools.lru_cache(maxsize=1)
def get_rules() -> CompiledRules:
    """Return the compiled rules, compiling them on first use after start-up or a settings change."""
    return compile_rules()


def requirement_for(request: HttpRequest, view_func: Callable[..., Any] | None = None) -> Requirement | None:
    """Return what `request` needs to pass under the settings' rules, or None if it may pass untouched."""
    return get_rules().requirement(request, view_func)


@receiver(setting_changed)
def _recompile_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        get_rules.cache_clear()
