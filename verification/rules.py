"""Compile the protected and exempt URL rules once, and answer "does this request need verification?".

Rule syntax (VERIFICATION_REQUIRED_URLS and VERIFICATION_EXEMPT_URLS):

- a string starting with "^" or "/" is a regular expression matched (`re.match`, from the start) against
  the decoded `path_info`: "/polls/" covers everything under /polls/, add "$" to match one path only;
- any other string is a URL name ("polls:vote", "login") or a whole namespace ("polls:*", "admin:auth:*");
- a dict `{"path": regex, "max_age": 300}` or `{"name": ..., "max_age": 300}` asks for a verification at
  most `max_age` seconds old on those URLs (step-up), overriding VERIFICATION_MAX_AGE.

When several protections match, the strictest `max_age` applies. An exemption wins over every protection.

Always exempt, whatever the rules say (so a redirect loop is impossible, even with `r"^/"`): the
verification app's own views, the LOGIN_URL view, every URL named "logout", STATIC_URL and MEDIA_URL,
and views marked with `verification_not_required`.

Spellings: a path rule protects a path if it matches any spelling Django might still route to a view:
the decoded path, the path decoded again (double encoding), with repeated slashes collapsed, with dot
segments resolved, with backslashes as slashes, and with a trailing slash added. A path exemption applies
only if it matches every one of those spellings (but the added trailing slash). Name rules use the resolved
view (`request.resolver_match`), so no spelling gets around them.

Speed: rules are compiled when VerificationRequiredMiddleware is created (so a worker pays before it
serves) and again on first use after a settings change (`setting_changed`), never per request. Each
regular expression is parsed once, and that one parse gives both its index key and its compiled form.
Names and namespaces are set lookups; regular expressions are indexed by the literal directory prefix
they must start with ("/polls/" for `^/polls/\\d+/`) and combined into a few alternations per prefix, so
a request tries only the rules that could match its path, however many rules there are. A plain prefix
("^/account/") is matched with `str.startswith`, and needs no compiling at all.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import operator
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve

from verification.conf import conf

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.urls import ResolverMatch

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
#: The app namespace of the verification flow's views: always exempt.
VERIFICATION_NAMESPACE = "verification"
#: URL names that are always exempt: logging out must always be possible.
ALWAYS_EXEMPT_URL_NAMES = frozenset({"logout"})
#: The view attribute set by `verification_not_required` (False) and `verification_required` (True).
VIEW_ATTRIBUTE = "verification_required"

#: Regular expressions are combined into alternations of at most this many rules.
_CHUNK = 500
_NOT_COMBINABLE = re.compile(r"\\[1-9]|\(\?\(|\(\?P=")
_SLASHES = re.compile(r"/{2,}")
_MAX_DECODE_ROUNDS = 3

RuleKind = Literal["path", "name", "namespace"]


class InvalidRule(ValueError):
    """A rule that cannot be used; `check_id` is the system check that reports it."""

    def __init__(self, message: str, check_id: str) -> None:
        super().__init__(message)
        self.check_id = check_id


@dataclass(frozen=True)
class Rule:
    """One entry of VERIFICATION_REQUIRED_URLS or VERIFICATION_EXEMPT_URLS, parsed.

    `value` is the regular expression (kind "path"), the qualified URL name ("name") or the namespace
    path without ":*" ("namespace"); `max_age` is the entry's own freshness in seconds, if any.
    """

    kind: RuleKind
    value: str
    max_age: int | None = None


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
            raise InvalidRule(f"{entry!r} is not a namespace rule such as 'polls:*'.", "verification.E004")
        return Rule("namespace", namespace, max_age)
    if "*" in entry or any(not part for part in entry.split(":")):
        raise InvalidRule(f"{entry!r} is not a URL name such as 'polls:vote'.", "verification.E004")
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


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a path rule, or raise InvalidRule (E005) saying why it does not compile."""
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as error:
        raise InvalidRule(f"{pattern!r} is not a valid regular expression: {error}.", "verification.E005") from None


def _private_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# The parser and compiler behind `re`. They are private, so they are used only where a surprise costs
# speed, never correctness: without them, or when they fail, the pattern's text is compiled instead.
_RE_PARSER: Any = _private_module("re._parser")
_RE_COMPILER: Any = _private_module("re._compiler")
_RE_CONSTANTS: Any = _private_module("re._constants")
# Plain integers: flag arithmetic on re.RegexFlag goes through the enum machinery, microseconds a rule.
_UNICODE = re.UNICODE.value
_CASE_FLAGS = (re.IGNORECASE | re.LOCALE).value


class _ParsedPattern(NamedTuple):
    """A path rule's regular expression, parsed once: what the index needs to know of it."""

    #: The regular expression as written.
    pattern: str
    #: The literal text every match starts with ("" if unknown).
    prefix: str
    #: Whether it keeps its meaning inside a bigger alternation.
    combinable: bool
    #: The pattern compiled from the same parse, if asked for (None: compile the text).
    compiled: re.Pattern[str] | None = None


def _analyse(pattern: str, *, with_compiled: bool = False) -> _ParsedPattern:
    """Parse `pattern` once: its literal prefix, whether it can join an alternation, and (if asked) the
    pattern compiled from that parse.

    Raises InvalidRule (E005) if the pattern does not parse.
    """
    if _RE_PARSER is None or _RE_CONSTANTS is None:
        return _ParsedPattern(pattern, "", False)
    try:
        parsed = _RE_PARSER.parse(pattern)
    except (re.error, OverflowError, RecursionError):
        compile_pattern(pattern)  # raises InvalidRule, saying why
        return _ParsedPattern(pattern, "", False)
    compiled = None
    if with_compiled and _RE_COMPILER is not None:
        # What re.compile does after parsing the text; any surprise is left to compile_pattern, later.
        with contextlib.suppress(Exception):
            compiled = _RE_COMPILER.compile(parsed)
    try:
        constants = _RE_CONSTANTS
        flags = int(parsed.state.flags)
        # Named groups and back-references change meaning (or fail) inside a bigger alternation, and a
        # global inline flag such as "(?i)" is only allowed at the very start.
        combinable = not parsed.state.groupdict and not flags & ~_UNICODE and not _NOT_COMBINABLE.search(pattern)
        if flags & _CASE_FLAGS:
            return _ParsedPattern(pattern, "", combinable, compiled)
        items = list(parsed.data)
        anchors = ((constants.AT, constants.AT_BEGINNING), (constants.AT, constants.AT_BEGINNING_STRING))
        if items and items[0] in anchors:
            items = items[1:]
        prefix: list[str] = []
        for op, argument in items:
            if op is not constants.LITERAL:
                break
            prefix.append(chr(argument))
        return _ParsedPattern(pattern, "".join(prefix), combinable, compiled)
    except Exception:  # see above
        return _ParsedPattern(pattern, "", False, compiled)


def literal_prefix(pattern: str) -> str:
    """Return the literal text every path matched by `pattern` (from its start) begins with; "" if unknown."""
    try:
        return _analyse(pattern).prefix
    except InvalidRule:
        return ""


def _key_of(prefix: str) -> str:
    return prefix[: prefix.rfind("/") + 1] if prefix.startswith("/") else ""


def index_key(pattern: str) -> str:
    """Return the directory prefix ("/polls/") under which `pattern` is indexed; "" for the unindexed group."""
    return _key_of(literal_prefix(pattern))


def path_spellings(path: str) -> list[str]:
    """Return `path` and the other spellings of it that a server or a view might read as the same path."""
    spellings = [path]
    decoded = path
    for _ in range(_MAX_DECODE_ROUNDS):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
        spellings.append(decoded)
    for spelling in list(spellings):
        normal = spelling.replace("\\", "/")
        normal = _SLASHES.sub("/", normal)
        if "/." in normal:
            resolved = posixpath.normpath(normal)
            if normal.endswith(("/", "/.", "/..")) and not resolved.endswith("/"):
                resolved += "/"
            normal = resolved
        spellings.append(normal)
    return list(dict.fromkeys(spellings))


def _max_age_order(max_age: int | None) -> float:
    return math.inf if max_age is None else max_age


def _compiled(parsed: _ParsedPattern) -> re.Pattern[str]:
    """Return the pattern compiled from its parse, else compile its text (raising InvalidRule if it is bad)."""
    return parsed.compiled if parsed.compiled is not None else compile_pattern(parsed.pattern)


def _combine(patterns: Sequence[_ParsedPattern]) -> list[re.Pattern[str]]:
    """Compile parsed patterns into as few alternations as meaning allows.

    A path matches one of the returned patterns if and only if it matches one of `patterns`. A pattern
    alone in its group is already compiled from its one parse; patterns that share a group are joined
    and compiled together (the joined text is parsed once more: measured, that costs less than keeping
    every parsed tree alive for the garbage collector to walk).
    """
    combinable = [parsed for parsed in patterns if parsed.combinable]
    alone = [_compiled(parsed) for parsed in patterns if not parsed.combinable]
    if len(combinable) == 1:
        return [_compiled(combinable[0]), *alone]
    combined: list[re.Pattern[str]] = []
    for start in range(0, len(combinable), _CHUNK):
        chunk = combinable[start : start + _CHUNK]
        try:
            combined.append(re.compile("|".join(f"(?:{parsed.pattern})" for parsed in chunk)))
        except (re.error, OverflowError, RecursionError):
            # One is invalid (compile_pattern says which), or they do not mix: keep them apart.
            combined.extend(_compiled(parsed) for parsed in chunk)
    return combined + alone


#: A rule that is a plain prefix: only characters that mean themselves, after an optional "^".
_LITERAL_RULE = re.compile(r"\^?[^.^$*+?{}\[\]\\|()]*")


class _Matcher(Protocol):
    def match(self, path: str, /) -> object: ...


class _Prefixes:
    """Plain-prefix rules, matched with one `str.startswith`, as `re.Pattern.match` would match them."""

    __slots__ = ("match",)

    def __init__(self, prefixes: Iterable[str]) -> None:
        # A C-level callable: `prefixes.match(path)` costs what `path.startswith(prefixes)` costs.
        self.match = operator.methodcaller("startswith", tuple(prefixes))


#: The rules under one index key with one freshness: its max-age order, and what matches them.
_Group = tuple[float, list[_Matcher]]


class PathIndex:
    """Path regular expressions indexed by their literal directory prefix, grouped by `max_age`.

    `match(path)` returns the strictest max-age order (seconds, `math.inf` for "any age") among the rules
    that match, or None when none does. It looks up only the prefixes of `path` itself ("/", "/polls/",
    "/polls/1/"...), so its cost depends on the depth of the path, not on the number of rules.

    A rule that is a plain prefix ("^/account/") is kept as a string: `re.match` of it and
    `str.startswith` agree on every path, and a string costs nothing to compile.
    """

    def __init__(self, rules: Iterable[tuple[str, int | None]]) -> None:
        literals: dict[str, dict[int | None, list[str]]] = {}
        patterns: dict[str, dict[int | None, list[_ParsedPattern]]] = {}
        for pattern, max_age in rules:
            if _LITERAL_RULE.fullmatch(pattern):
                literal = pattern.removeprefix("^")
                literals.setdefault(_key_of(literal), {}).setdefault(max_age, []).append(literal)
            else:
                parsed = _analyse(pattern, with_compiled=True)
                patterns.setdefault(_key_of(parsed.prefix), {}).setdefault(max_age, []).append(parsed)
        self._buckets: dict[str, list[_Group]] = {}
        for key in literals.keys() | patterns.keys():
            literal_groups = literals.get(key, {})
            pattern_groups = patterns.get(key, {})
            groups: list[_Group] = []
            for max_age in literal_groups.keys() | pattern_groups.keys():
                matchers: list[_Matcher] = [_Prefixes(literal_groups[max_age])] if max_age in literal_groups else []
                matchers += _combine(pattern_groups.get(max_age, []))
                groups.append((_max_age_order(max_age), matchers))
            self._buckets[key] = sorted(groups, key=lambda group: group[0])
        self._unindexed = self._buckets.pop("", None)
        self._root = self._buckets.pop("/", None)
        # The first folder of every other key ("/polls/" of "/polls/1/"): a path in none of them is done
        # with one set lookup, however many rules there are.
        self._heads = frozenset(key[: key.find("/", 1) + 1] for key in self._buckets)
        # The depths (slashes in the key) that have rules: the only prefixes of a path worth looking up.
        depths = {key.count("/") for key in self._buckets}
        self._depth = max(depths, default=0)
        self._depths = frozenset(depths)

    def __bool__(self) -> bool:
        return bool(self._buckets) or self._unindexed is not None or self._root is not None

    @staticmethod
    def _match_bucket(bucket: list[_Group], path: str) -> float | None:
        for order, matchers in bucket:
            for matcher in matchers:
                if matcher.match(path):
                    return order
        return None

    def match(self, path: str) -> float | None:
        """Return the strictest max-age order of the rules matching `path`, or None."""
        best: float | None = None
        if self._unindexed is not None:
            best = self._match_bucket(self._unindexed, path)
        if self._root is not None and path.startswith("/"):
            found = self._match_bucket(self._root, path)
            if found is not None and (best is None or found < best):
                best = found
        if not self._depth:
            return best
        end = path.find("/", 1) + 1
        if not end or path[:end] not in self._heads:
            return best
        buckets = self._buckets
        depths = self._depths
        for depth in range(2, self._depth + 1):
            if depth in depths:
                bucket = buckets.get(path[:end])
                if bucket is not None:
                    found = self._match_bucket(bucket, path)
                    if found is not None and (best is None or found < best):
                        best = found
            end = path.find("/", end) + 1
            if not end:
                break
        return best


def _url_prefix(url: str | None) -> str | None:
    """Return the path of STATIC_URL or MEDIA_URL to exempt, or None when it is off-site or the whole site."""
    if not url:
        return None
    parts = urlsplit(str(url))
    if parts.scheme or parts.netloc:
        return None
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    if not path.endswith("/"):
        path += "/"
    return path if path != "/" else None


def _view_name_of(url: str) -> str | None:
    """Return the view name that the same-site `url` resolves to, or None."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    path = parts.path
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


class CompiledRules:
    """VERIFICATION_REQUIRED_URLS and VERIFICATION_EXEMPT_URLS compiled for fast per-request decisions."""

    def __init__(self, required: Sequence[Rule], exempt: Sequence[Rule], default_max_age: int | None) -> None:
        def order_of(rule: Rule) -> float:
            return _max_age_order(rule.max_age if rule.max_age is not None else default_max_age)

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

        login_url = self._resolve_login_url()
        self.login_path = urlsplit(login_url).path if login_url else None
        self.login_view_name = _view_name_of(login_url) if login_url else None
        self.exempt_prefixes = tuple(
            prefix for prefix in (_url_prefix(settings.STATIC_URL), _url_prefix(settings.MEDIA_URL)) if prefix
        )

    @property
    def protects_anything(self) -> bool:
        """Tell whether any protection rule is configured."""
        return bool(self._requirements)

    @staticmethod
    def _resolve_login_url() -> str | None:
        try:
            return str(resolve_url(settings.LOGIN_URL))
        except NoReverseMatch:
            return None

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
        if "%" in path or "//" in path or "/." in path or "\\" in path:
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
        for spelling in path_spellings(path):
            for candidate in (spelling,) if spelling.endswith("/") else (spelling, spelling + "/"):
                found = match_path(candidate)
                if found is not None and (best is None or found < best):
                    best = found
        return best

    def _match_namespaced(self, match: ResolverMatch, best: float | None) -> float | None:
        """Return the strictest of `best` and the rules on the view's app-qualified name and namespaces."""
        if self.required_names and match.app_names != match.namespaces and match.url_name:
            # A rule on "polls:vote" covers every instance of the polls app, whatever its namespace.
            found = self.required_names.get(":".join([*match.app_names, match.url_name]))
            if found is not None and (best is None or found < best):
                best = found
        if self.required_namespaces and match.namespaces:
            for spaces in _namespace_paths(match):
                found = self.required_namespaces.get(spaces)
                if found is not None and (best is None or found < best):
                    best = found
        return best

    def _is_exempt(self, request: HttpRequest, view_func: Callable[..., Any] | None) -> bool:
        if view_func is not None and getattr(view_func, VIEW_ATTRIBUTE, None) is False:
            return True
        match = getattr(request, "resolver_match", None)
        if match is not None:
            if VERIFICATION_NAMESPACE in match.app_names or VERIFICATION_NAMESPACE in match.namespaces:
                return True
            if match.url_name in ALWAYS_EXEMPT_URL_NAMES or (
                self.login_view_name is not None and match.view_name == self.login_view_name
            ):
                return True
            if self.exempt_names and (
                match.view_name in self.exempt_names
                or (match.url_name and ":".join([*match.app_names, match.url_name]) in self.exempt_names)
            ):
                return True
            if self.exempt_namespaces and any(spaces in self.exempt_namespaces for spaces in _namespace_paths(match)):
                return True
        path = request.path
        if path == self.login_path:
            return True
        if self.exempt_prefixes and path.startswith(self.exempt_prefixes):
            for prefix in self.exempt_prefixes:
                if path.startswith(prefix) and all(spelling.startswith(prefix) for spelling in path_spellings(path)):
                    return True
        if self.has_path_exemptions:
            # Fail closed: every spelling of the path must be exempt.
            return all(self.exempt_paths.match(spelling) is not None for spelling in path_spellings(request.path_info))
        return False


def _namespace_paths(match: ResolverMatch) -> Iterable[str]:
    """Yield every namespace enclosing the view: "admin", then "admin:auth"; instance and app namespaces."""
    for spaces in (match.namespaces, match.app_names):
        for depth in range(1, len(spaces) + 1):
            yield ":".join(spaces[:depth])


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
