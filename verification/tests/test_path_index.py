"""The path index answers exactly as `re.match` on every rule would, whatever the patterns hold."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from verification._path_index import PathIndex, literal_prefix

# Every construct the prefix reader must either understand or leave alone: literals, escaped
# punctuation, escapes that are classes or anchors, character classes (with "]" and "|" inside),
# quantifiers (greedy, lazy, counted), groups of every kind, anchors, alternation, inline flags.
PIECES = [
    "/", "a", "b", "A", "-", " ", "#", "x/",
    r"\.", r"\/", r"\-", r"\d", r"\w", r"\s", r"\Z", r"\b",
    "[ab]", "[^/]", "[]a]", "[|]", r"[/\\]", ".",
    "?", "*", "+", "{2}", "{0,2}", "*?", "{",
    "(a|b)", "(?:/a)", "(?i:a)", "(?=a)", "(?!b)", "(/)?",
    "$", "|", "|/", "/x/", "/x/a",
]  # fmt: skip
STARTS = ["", "^", r"\A", "(?i)", "(?x)", "(?s)", "^/", "/"]


def compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


patterns = st.builds(
    lambda start, pieces: start + "".join(pieces),
    st.sampled_from(STARTS),
    st.lists(st.sampled_from(PIECES), max_size=7),
).filter(compiles)
paths = st.builds(lambda body: "/" + body, st.text("ab/-. A#x0", max_size=8))


def strictest_by_re(rules: list[tuple[str, int | None]], path: str) -> float | None:
    orders = [math.inf if max_age is None else max_age for pattern, max_age in rules if re.match(pattern, path)]
    return min(orders, default=None)


# Characters that mean themselves in a path, and the ones a regular expression gives a meaning to.
PATH_ALPHABET = "ab/-~ %.\n"
PATTERN_ALPHABET = "ab/-~ %.*+?$|(){}1^\\"
text_patterns = st.builds(
    lambda anchor, body: anchor + "/" + body,
    st.sampled_from(["", "^"]),
    st.text(PATTERN_ALPHABET, max_size=6),
)
text_paths = st.builds(lambda body: "/" + body, st.text(PATH_ALPHABET, max_size=8))


@hypothesis_settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule_list=st.lists(
        st.tuples(text_patterns.filter(compiles), st.sampled_from([None, 30, 600])), min_size=1, max_size=6
    ),
    path_list=st.lists(text_paths, min_size=1, max_size=6),
)
def test_the_index_answers_as_re_match_on_every_rule_would(
    rule_list: list[tuple[str, int | None]], path_list: list[str]
) -> None:
    index = PathIndex(rule_list)
    for path in path_list:
        assert index.match(path) == strictest_by_re(rule_list, path), path


@hypothesis_settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    rules=st.lists(st.tuples(patterns, st.sampled_from([None, 30, 600])), min_size=1, max_size=8),
    path_list=st.lists(paths, min_size=1, max_size=8),
)
def test_the_index_answers_as_re_match_on_every_generated_rule(
    rules: list[tuple[str, int | None]], path_list: list[str]
) -> None:
    index = PathIndex(rules)
    for path in path_list:
        assert index.match(path) == strictest_by_re(rules, path), path


@hypothesis_settings(max_examples=600, suppress_health_check=[HealthCheck.filter_too_much])
@given(pattern=patterns, path=paths)
def test_every_match_starts_with_the_prefix_read(pattern: str, path: str) -> None:
    if re.match(pattern, path):
        assert path.startswith(literal_prefix(pattern)), (pattern, literal_prefix(pattern))


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        (r"^/polls/\d+/", "/polls/"),
        (r"^/a\.b/c", "/a.b/c"),
        ("^/ab{2}/", "/a"),
        ("^/ab*", "/a"),
        ("^/ab*?", "/a"),
        ("^/a{", "/"),
        ("(?x)^/a b/", ""),
        ("(?i)^/polls/", ""),
        ("^/a/|^/b/", ""),
        ("^/x/(a|b)/", "/x/"),
        ("^/x[|]y", "/x"),
        (r"^/x\|y", "/x|y"),
        (r"^/x\d", "/x"),
        (r"\A/x/", "/x/"),
        (r"^/x\Z", "/x"),
        ("^/x(?=y)", "/x"),
    ],
)
def test_the_prefix_read_from_the_text(pattern: str, prefix: str) -> None:
    assert literal_prefix(pattern) == prefix
