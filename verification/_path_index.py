"""The path index: regular-expression rules grouped by the literal folder they must start with (internal).

A rule's literal prefix is read from the pattern's text by a small reader that knows exactly what it
accepts: an optional leading "^" or "\\A", then characters that mean themselves, or punctuation escaped
with a backslash. It stops at anything else, and drops the last literal when a quantifier follows it.
A pattern with an alternation at its top level, or with inline flags at its start (which may change
what its literals mean: "(?i)", "(?x)"), has no prefix: it goes to the unindexed group. A prefix read
this way may be shorter than the longest possible one, never longer, so the index only costs a
pattern a few more tries, never a wrong answer.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from verification.exceptions import InvalidRule

__all__: list[str] = []

#: Regular expressions are combined into alternations of at most this many rules.
_CHUNK = 500
#: Characters with a meaning of their own in a regular expression (outside a class).
_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_QUANTIFIERS = frozenset("*+?{")
#: Inline flags at the start of a pattern: "(?i)", "(?aiLmsux)".
_LEADING_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")
#: What changes meaning, or fails, inside a bigger alternation: back-references, conditionals, named groups.
_NOT_COMBINABLE = re.compile(r"\\[1-9]|\(\?\(|\(\?P")
#: A rule that is a plain prefix: only characters that mean themselves, after an optional "^".
_LITERAL_RULE = re.compile(r"\^?[^.^$*+?{}\[\]\\|()]*")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a path rule, or raise InvalidRule (E005) saying why it does not compile."""
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as error:
        raise InvalidRule(f"{pattern!r} is not a valid regular expression: {error}.", "verification.E005") from None


def _has_top_level_alternation(pattern: str) -> bool:
    """Tell whether `pattern` has a "|" outside every group and class (True too if it cannot tell)."""
    depth = 0
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _end_of_class(pattern, index)
            if index < 0:
                return True
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return True
        elif char == "|" and depth == 0:
            return True
        index += 1
    return depth != 0


def _end_of_class(pattern: str, start: int) -> int:
    """Return the index just past the character class opening at `start`, or -1 if it never closes."""
    index = start + 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1  # a "]" first in a class is a literal
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
        elif pattern[index] == "]":
            return index + 1
        else:
            index += 1
    return -1


def literal_prefix(pattern: str) -> str:
    """Return literal text that every path matched by `pattern` (from its start) begins with; "" if unknown."""
    # Inline flags at the start, "(?i)", need no test of their own: the reader stops at their "(".
    if _has_top_level_alternation(pattern):
        return ""
    index = 1 if pattern.startswith("^") else 2 if pattern.startswith("\\A") else 0
    prefix: list[str] = []
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and _is_escaped_literal(pattern[index + 1]):
            prefix.append(pattern[index + 1])
            index += 2
        elif char not in _SPECIAL:
            prefix.append(char)
            index += 1
        else:
            if char in _QUANTIFIERS and prefix:
                prefix.pop()  # the last literal may repeat zero times, or more
            break
    return "".join(prefix)


def _is_escaped_literal(char: str) -> bool:
    # "\." is ".", "\/" is "/"; a letter or digit after "\" is a class, an anchor or a back-reference.
    return char.isascii() and not char.isalnum() and char != "_" and not char.isspace()


def folder_of(prefix: str) -> str:
    """Return the folder ("/shop/") a literal prefix ("/shop/1") lies in; "" if it is not a path."""
    return prefix[: prefix.rfind("/") + 1] if prefix.startswith("/") else ""


def max_age_order(max_age: int | None) -> float:
    """Return `max_age` as a sortable freshness: seconds, or infinity for "any age"."""
    return math.inf if max_age is None else max_age


def _is_combinable(pattern: str) -> bool:
    """Tell whether `pattern` keeps its meaning inside a bigger alternation."""
    # Inline flags are allowed only at the very start of the whole expression.
    return not _NOT_COMBINABLE.search(pattern) and not _LEADING_FLAGS.match(pattern)


def _combine(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    """Compile `patterns` into as few alternations as meaning allows, each pattern's text compiled once.

    A path matches one of the returned patterns if and only if it matches one of `patterns`.
    """
    combinable = [pattern for pattern in patterns if _is_combinable(pattern)]
    alone = [compile_pattern(pattern) for pattern in patterns if not _is_combinable(pattern)]
    if len(combinable) == 1:
        return [compile_pattern(combinable[0]), *alone]
    combined: list[re.Pattern[str]] = []
    for start in range(0, len(combinable), _CHUNK):
        chunk = combinable[start : start + _CHUNK]
        try:
            combined.append(re.compile("|".join(f"(?:{pattern})" for pattern in chunk)))
        except (re.error, OverflowError, RecursionError):
            # One is invalid (compile_pattern says which), or they do not mix: keep them apart.
            combined.extend(compile_pattern(pattern) for pattern in chunk)
    return combined + alone


class _Matcher(Protocol):
    def match(self, path: str, /) -> object: ...


class _Prefixes:
    """Plain-prefix rules, matched with one `str.startswith`, as `re.Pattern.match` would match them."""

    __slots__ = ("match",)

    def __init__(self, prefixes: Iterable[str]) -> None:
        # A C-level callable: `prefixes.match(path)` costs what `path.startswith(prefixes)` costs.
        self.match = operator.methodcaller("startswith", tuple(prefixes))


class _Group(NamedTuple):
    """The rules under one folder with one freshness: its max-age order, and what matches them."""

    order: float
    matchers: list[_Matcher]


class PathIndex:
    """Path regular expressions indexed by their literal folder, grouped by `max_age`.

    `match(path)` returns the strictest max-age order (seconds, `math.inf` for "any age") among the rules
    that match, or None when none does. It looks up only the folders of `path` itself ("/", "/shop/",
    "/shop/1/"...), so its cost depends on the depth of the path, not on the number of rules.

    A rule that is a plain prefix ("^/account/") is kept as a string: `re.match` of it and
    `str.startswith` agree on every path, and a string costs nothing to compile.
    """

    def __init__(self, rules: Iterable[tuple[str, int | None]]) -> None:
        literals: dict[str, dict[int | None, list[str]]] = {}
        patterns: dict[str, dict[int | None, list[str]]] = {}
        for pattern, max_age in rules:
            if _LITERAL_RULE.fullmatch(pattern):
                literal = pattern.removeprefix("^")
                literals.setdefault(folder_of(literal), {}).setdefault(max_age, []).append(literal)
            else:
                patterns.setdefault(folder_of(literal_prefix(pattern)), {}).setdefault(max_age, []).append(pattern)
        self._buckets: dict[str, list[_Group]] = {}
        for key in literals.keys() | patterns.keys():
            literal_groups = literals.get(key, {})
            pattern_groups = patterns.get(key, {})
            groups: list[_Group] = []
            for max_age in literal_groups.keys() | pattern_groups.keys():
                matchers: list[_Matcher] = [_Prefixes(literal_groups[max_age])] if max_age in literal_groups else []
                matchers += _combine(pattern_groups.get(max_age, []))
                groups.append(_Group(max_age_order(max_age), matchers))
            self._buckets[key] = sorted(groups, key=lambda group: group.order)
        self.unindexed = self._buckets.pop("", None)
        self._root = self._buckets.pop("/", None)
        # The first folder of every other key ("/shop/" of "/shop/1/"): a path in none of them is done
        # with one set lookup, however many rules there are.
        self._heads = frozenset(key[: key.find("/", 1) + 1] for key in self._buckets)
        # The depths (slashes in the key) that have rules: the only prefixes of a path worth looking up.
        depths = {key.count("/") for key in self._buckets}
        self._depth = max(depths, default=0)
        self._depths = frozenset(depths)

    def __bool__(self) -> bool:
        return bool(self._buckets) or self.unindexed is not None or self._root is not None

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
        if self.unindexed is not None:
            best = self._match_bucket(self.unindexed, path)
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
