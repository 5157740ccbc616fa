"""The rules: parsing, compiling once, the path index, spellings, names, namespaces, exemptions, max age."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import Resolver404, resolve

from verification._path_index import PathIndex, compile_pattern, folder_of, literal_prefix
from verification.exceptions import InvalidRule
from verification.paths import path_spellings
from verification.rules import (
    Requirement,
    Rule,
    get_rules,
    parse_rule,
    parse_rules,
    requirement_for,
)
from verification.tests.helpers_enforcement import use_enforcement_urls


@pytest.fixture
def urls(settings: Any) -> Any:
    use_enforcement_urls(settings)
    return settings


def build_request(path: str, *, resolve_view: bool = True) -> Any:
    """A request as process_view sees it, `path` being its decoded path_info; resolved if asked and possible."""
    request = RequestFactory().get("/")
    request.path_info = request.path = path
    try:
        match = resolve(path) if resolve_view else None
    except Resolver404:
        match = None
    request.resolver_match = match
    return request, (match.func if match else None)


def needs(path: str) -> Requirement | None:
    request, view = build_request(path)
    return requirement_for(request, view)


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("^/account/", Rule("path", "^/account/")),
        ("/account/", Rule("path", "/account/")),
        ("polls:vote", Rule("name", "polls:vote")),
        ("login", Rule("name", "login")),
        ("polls:*", Rule("namespace", "polls")),
        ("admin:auth:*", Rule("namespace", "admin:auth")),
        ({"path": "^/account/", "max_age": 300}, Rule("path", "^/account/", 300)),
        ({"name": "polls:vote", "max_age": 60}, Rule("name", "polls:vote", 60)),
        ({"name": "polls:*", "max_age": 60}, Rule("namespace", "polls", 60)),
        ({"path": "^/a/", "max_age": None}, Rule("path", "^/a/")),
        ({"path": "account/"}, Rule("path", "account/")),
    ],
)
def test_parse_rule_reads_every_form(entry: Any, expected: Rule) -> None:
    assert parse_rule(entry) == expected


@pytest.mark.parametrize(
    ("entry", "check_id"),
    [
        (123, "verification.E004"),
        (None, "verification.E004"),
        ("", "verification.E004"),
        (" polls:vote", "verification.E004"),
        ("*", "verification.E004"),
        (":*", "verification.E004"),
        ("polls:", "verification.E004"),
        (":vote", "verification.E004"),
        ("polls::vote", "verification.E004"),
        ("polls:vo*te", "verification.E004"),
        (["^/a/"], "verification.E004"),
        ({"path": "^/a/", "name": "a"}, "verification.E004"),
        ({"max_age": 5}, "verification.E004"),
        ({"path": "^/a/", "extra": 1}, "verification.E004"),
        ({"path": ""}, "verification.E004"),
        ({"path": 5}, "verification.E004"),
        ({"name": "^/a/"}, "verification.E004"),
        ({"name": 5}, "verification.E004"),
        ({"path": "^/a/", "max_age": 0}, "verification.E009"),
        ({"path": "^/a/", "max_age": -5}, "verification.E009"),
        ({"path": "^/a/", "max_age": True}, "verification.E009"),
        ({"path": "^/a/", "max_age": 1.5}, "verification.E009"),
        ({"path": "^/a/", "max_age": "300"}, "verification.E009"),
    ],
)
def test_parse_rule_refuses_bad_entries_with_their_check_id(entry: Any, check_id: str) -> None:
    with pytest.raises(InvalidRule) as caught:
        parse_rule(entry)
    assert caught.value.check_id == check_id


def test_parse_rules_wants_a_list_and_names_the_setting() -> None:
    with pytest.raises(InvalidRule) as caught:
        parse_rules("^/a/", "VERIFICATION_REQUIRED_URLS")
    assert caught.value.check_id == "verification.E003"
    with pytest.raises(InvalidRule) as caught:
        parse_rules(["^/a/", 5], "VERIFICATION_EXEMPT_URLS")
    assert caught.value.check_id == "verification.E004"
    assert "VERIFICATION_EXEMPT_URLS" in str(caught.value)
    assert parse_rules(("^/a/",), "X") == [Rule("path", "^/a/")]


def test_compile_pattern_reports_a_bad_regex() -> None:
    with pytest.raises(InvalidRule) as caught:
        compile_pattern("^/(unclosed/")
    assert caught.value.check_id == "verification.E005"


# -- the index ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "prefix", "key"),
    [
        (r"^/polls/\d+/", "/polls/", "/polls/"),
        ("/polls/", "/polls/", "/polls/"),
        (r"\A/polls/1/vote/$", "/polls/1/vote/", "/polls/1/vote/"),
        ("^/pol", "/pol", "/"),
        ("^/", "/", "/"),
        (r"^/a\.b/c", "/a.b/c", "/a.b/"),
        ("^/polls/?", "/polls", "/"),
        ("(?i)^/polls/", "", ""),
        ("^(/a|/b)/", "", ""),
        ("^/a/|^/b/", "", ""),  # an alternation at the top: unindexed
        ("^/a/|/b/", "", ""),
        (r"^.*\.pdf$", "", ""),
        ("^polls/", "polls/", ""),
    ],
)
def test_literal_prefix_and_folder(pattern: str, prefix: str, key: str) -> None:
    assert literal_prefix(pattern) == prefix
    assert folder_of(literal_prefix(pattern)) == key


def test_path_index_finds_the_one_matching_rule_among_ten_thousand() -> None:
    patterns = [(f"^/section-{i}/", None) for i in range(5000)]
    patterns += [(f"^/shop/{i}/(?:[0-9]+/)?$", 3600) for i in range(5000)]
    index = PathIndex([*patterns, ("^/target/page/", 60)])
    assert index.match("/target/page/") == 60
    assert index.match("/section-4999/x/") == math.inf
    assert index.match("/shop/17/42/") == 3600
    assert index.match("/shop/17/x/") is None
    assert index.match("/nothing/") is None
    assert index.match("/") is None


def test_path_index_returns_the_strictest_of_overlapping_rules() -> None:
    index = PathIndex([("^/account/", None), (r"^/account/\w+/delete/", 30), ("^/", 600), ("^/account/", 120)])
    assert index.match("/account/bob/delete/") == 30
    assert index.match("/account/bob/") == 120
    assert index.match("/elsewhere/") == 600


def test_path_index_keeps_the_meaning_of_patterns_that_cannot_be_combined() -> None:
    index = PathIndex(
        [
            (r"^/(a)/x/", None),
            (r"^/(b)/\1/", 10),
            (r"^/(?P<name>c)/(?P=name)/", 20),
            ("(?i)^/CASE/", 30),
            (r"^/(d)?(?(1)/yes/|/no/)", 40),
        ]
    )
    assert index.match("/a/x/") == math.inf
    assert index.match("/b/b/") == 10
    assert index.match("/b/a/") is None
    assert index.match("/c/c/") == 20
    assert index.match("/c/d/") is None
    assert index.match("/case/") == 30
    assert index.match("/d/yes/") == 40
    assert index.match("//no/") == 40
    assert index.match("/no/") is None


def test_path_index_with_no_literal_prefix_still_matches() -> None:
    index = PathIndex([(r"^.*\.pdf$", None), ("^/(x|y)/", 5)])
    assert index.match("/deep/down/report.pdf") == math.inf
    assert index.match("/y/") == 5
    assert index.match("/z/") is None
    assert not PathIndex([])


def spellings(path: str) -> list[str]:
    return path_spellings(path).spellings


def test_path_spellings_decode_collapse_and_resolve() -> None:
    assert path_spellings("/plain/") == (["/plain/"], True)
    assert "/files/secret" in spellings("/files//secret")
    assert "/files/secret" in spellings("/files/%73ecret")
    assert "/files/secret" in spellings("/files/%2573ecret")
    assert "/files/secret/" in spellings("/files/./secret/")
    assert "/secret/" in spellings("/static/../secret/")
    assert "/files/secret" in spellings("/files\\secret")
    assert "/a/b/" in spellings("/a/%2F%2Fb/")


# -- compiled once ------------------------------------------------------------------------------


def test_rules_compile_once_and_again_when_a_setting_changes(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/"]
    first = get_rules()
    assert get_rules() is first
    assert needs("/account/") == Requirement(None)
    urls.VERIFICATION_REQUIRED_URLS = ["^/other/"]
    second = get_rules()
    assert second is not first
    assert needs("/account/") is None
    urls.VERIFICATION_MAX_AGE = 90
    assert get_rules() is not second


def test_a_bad_pattern_fails_closed_at_compile_time(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/(oops/"]
    with pytest.raises(ImproperlyConfigured, match=r"verification\.E005"):
        get_rules()


def test_nothing_is_required_without_rules(urls: Any) -> None:
    assert needs("/account/") is None
    assert not get_rules().has_path_rules
    assert not get_rules().has_name_rules


# -- names, namespaces and paths ------------------------------------------------------------------


def test_name_rules_match_the_resolved_view(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["polls:detail", "account"]
    assert needs("/polls/1/") == Requirement(None)
    assert needs("/account/") == Requirement(None)
    assert needs("/polls/") is None
    assert needs("/polls/1/vote/") is None
    assert needs("/account/settings/") is None


def test_a_name_rule_covers_every_instance_of_the_app(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["polls:detail"]
    assert needs("/archive/1/") == Requirement(None)
    urls.VERIFICATION_REQUIRED_URLS = ["archive:detail"]
    assert needs("/archive/1/") == Requirement(None)
    assert needs("/polls/1/") is None


def test_namespace_rules_cover_the_namespace_and_nested_ones(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["polls:*"]
    assert needs("/polls/") == Requirement(None)
    assert needs("/polls/1/vote/") == Requirement(None)
    assert needs("/archive/1/") == Requirement(None)
    assert needs("/account/") is None
    urls.VERIFICATION_REQUIRED_URLS = ["outer:*"]
    assert needs("/nested/top/") == Requirement(None)
    assert needs("/nested/inner/page/") == Requirement(None)
    urls.VERIFICATION_REQUIRED_URLS = ["outer:inner:*"]
    assert needs("/nested/inner/page/") == Requirement(None)
    assert needs("/nested/top/") is None


def test_path_rules_match_from_the_start_of_the_path(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["/account/", "^/polls/1/$"]
    assert needs("/account/") == Requirement(None)
    assert needs("/account/help/") == Requirement(None)
    assert needs("/polls/1/") == Requirement(None)
    assert needs("/polls/12/") is None
    assert needs("/archive/1/") is None


@pytest.mark.parametrize(
    "path",
    [
        "/files/secret",
        "/files//secret",
        "/files/%73ecret",  # sent as %2573ecret: decoded once into path_info
        "/files/%2573ecret",  # sent encoded three times
        "/files/./secret",
        "/files/x/../secret",
        "/files\\secret",
        "/files/secret/",
    ],
)
def test_path_rules_catch_other_spellings_of_a_protected_path(urls: Any, path: str) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/files/secret"]
    request, view = build_request(path, resolve_view=False)
    assert requirement_for(request, view) == Requirement(None)


def test_a_missing_trailing_slash_is_still_protected(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/optional/$"]
    assert needs("/optional") == Requirement(None)
    assert needs("/optional/") == Requirement(None)


def test_double_slashes_are_still_protected(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/settings/"]
    request, view = build_request("//account//settings/", resolve_view=False)
    assert requirement_for(request, view) == Requirement(None)


# -- max age ------------------------------------------------------------------------------------


def test_max_age_comes_from_the_rule_else_the_global_setting(urls: Any) -> None:
    urls.VERIFICATION_MAX_AGE = 600
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/", {"name": "account-settings", "max_age": 60}]
    assert needs("/account/") == Requirement(600)
    assert needs("/account/settings/") == Requirement(60)


def test_the_strictest_matching_rule_wins(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = [
        {"path": "^/account/", "max_age": 3600},
        {"path": "^/account/settings/", "max_age": 30},
        {"name": "account-settings", "max_age": 120},
        "polls:*",
        {"name": "polls:vote", "max_age": 15},
    ]
    assert needs("/account/") == Requirement(3600)
    assert needs("/account/settings/") == Requirement(30)
    assert needs("/polls/1/") == Requirement(None)
    assert needs("/polls/1/vote/") == Requirement(15)


def test_a_rule_max_age_may_be_longer_than_the_global_one(urls: Any) -> None:
    urls.VERIFICATION_MAX_AGE = 60
    urls.VERIFICATION_REQUIRED_URLS = [{"path": "^/account/", "max_age": 3600}]
    assert needs("/account/") == Requirement(3600)


# -- exemptions -----------------------------------------------------------------------------------


def test_exemptions_win_over_protections(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/", "polls:*"]
    urls.VERIFICATION_EXEMPT_URLS = ["^/account/help/", "account-settings", "polls:index", "archive:*"]
    assert needs("/account/") == Requirement(None)
    assert needs("/account/help/") is None
    assert needs("/account/settings/") is None
    assert needs("/polls/") is None
    assert needs("/polls/1/") == Requirement(None)
    assert needs("/archive/1/") is None


def test_a_path_exemption_must_match_every_spelling(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/"]
    urls.VERIFICATION_EXEMPT_URLS = ["^/account/help/"]
    request, view = build_request("/account/help/../settings/", resolve_view=False)
    assert requirement_for(request, view) == Requirement(None)
    request, view = build_request("/account/help/%2E%2E/settings/", resolve_view=False)
    assert requirement_for(request, view) == Requirement(None)
    request, view = build_request("/account/help/faq/", resolve_view=False)
    assert requirement_for(request, view) is None


@pytest.mark.parametrize(
    "path",
    [
        "/verify/",
        "/verify/send/",
        "/verify/confirm/",
        "/verify/resend/",
        "/verify/cancel/",
        "/login/",
        "/logout/",
        "/static/css/site.css",
        "/media/avatar.png",
        "/open/",
        "/open-cbv/",
    ],
)
def test_always_exempt_even_when_everything_is_protected(urls: Any, path: str) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/", "verification:*", "login", "logout"]
    assert needs(path) is None


@pytest.mark.parametrize("path", ["/", "/probe/", "/polls/1/", "/static/../polls/1/", "/media//../account/"])
def test_everything_else_is_protected_by_a_catch_all(urls: Any, path: str) -> None:
    urls.VERIFICATION_REQUIRED_URLS = [r"^/"]
    request, view = build_request(path)
    assert requirement_for(request, view) == Requirement(None)


def test_the_login_url_is_exempt_when_given_as_a_path(urls: Any) -> None:
    urls.LOGIN_URL = "/login/"
    urls.VERIFICATION_REQUIRED_URLS = ["^/"]
    assert needs("/login/") is None


def test_an_offsite_static_url_or_a_root_one_exempts_nothing(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/"]
    urls.STATIC_URL = "https://cdn.example.com/static/"
    urls.MEDIA_URL = "/"
    assert needs("/static/css/site.css") == Requirement(None)
    assert needs("/probe/") == Requirement(None)


def test_the_rules_never_read_the_user_or_the_session(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["^/account/", "polls:*"]
    request, view = build_request("/probe/")
    # Neither attribute exists: reading one would raise.
    assert not hasattr(request, "user")
    assert not hasattr(request, "session")
    assert requirement_for(request, view) is None
    request, view = build_request("/account/")
    assert requirement_for(request, view) == Requirement(None)


def test_a_request_without_a_resolver_match_uses_the_path_rules_only(urls: Any) -> None:
    urls.VERIFICATION_REQUIRED_URLS = ["polls:*", "^/account/"]
    request, view = build_request("/polls/1/", resolve_view=False)
    assert requirement_for(request, view) is None
    request, view = build_request("/account/", resolve_view=False)
    assert requirement_for(request, view) == Requirement(None)


def test_the_unindexed_combined_patterns_stay_few() -> None:
    index = PathIndex([(f"^/section-{i}/", None) for i in range(2000)] + [(rf"^[/\\]x{i}/", None) for i in range(1200)])
    unindexed = index.unindexed
    assert unindexed is not None
    # 1,200 prefix-less rules in three alternations, not 1,200 patterns tried one by one.
    assert sum(len(patterns) for _, patterns in unindexed) == 3
    assert all(isinstance(p, re.Pattern) for _, patterns in unindexed for p in patterns)
