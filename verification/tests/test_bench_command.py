"""The enforcement benchmark command: its output's shape and sanity, never its timings."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import Client

from verification._bench.pages import PROTECTED_URL_NAME, BenchURLconf, build_urlconf, rule_set
from verification._bench.stats import ratio_interval
from verification.management.commands import bench_verification

CASE_NAMES = ["unprotected_anonymous", "protected_verified", "protected_unverified"]
TINY = ["--requests", "6", "--rounds", "2", "--use-current-database"]


def run_bench(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("bench_verification", *TINY, *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def minimal_report(django_db_setup: Any, django_db_blocker: Any) -> dict[str, Any]:
    """One tiny run on the minimal view, shared by the tests that read its report."""
    with django_db_blocker.unblock():
        stdout, _stderr = run_bench("--view", "minimal", "--clock", "cpu", "--rules", "1,10,50", "--json")
    return json.loads(stdout)


def test_json_has_exactly_the_documented_shape(minimal_report):
    assert set(minimal_report) == {"cases", "rules"}
    assert [case["name"] for case in minimal_report["cases"]] == CASE_NAMES
    for case in minimal_report["cases"]:
        assert set(case) == {"name", "with_us", "without_us", "ratio", "queries_with", "queries_without"}
    assert [row["count"] for row in minimal_report["rules"]] == [1, 10, 50]
    for row in minimal_report["rules"]:
        assert set(row) == {"count", "us", "ratio_to_one"}


def test_figures_are_positive_and_the_ratios_follow_from_them(minimal_report):
    for case in minimal_report["cases"]:
        assert case["with_us"] > 0
        assert case["without_us"] > 0
        assert case["ratio"] == pytest.approx(case["with_us"] / case["without_us"], rel=1e-3)
        assert isinstance(case["queries_with"], int)
        assert isinstance(case["queries_without"], int)
    baseline = minimal_report["rules"][0]["us"]
    assert minimal_report["rules"][0]["ratio_to_one"] == 1.0
    for row in minimal_report["rules"]:
        assert row["us"] > 0
        assert row["ratio_to_one"] == pytest.approx(row["us"] / baseline, rel=1e-3)


def test_queries_are_counted_and_a_pass_adds_none(minimal_report):
    cases = {case["name"]: case for case in minimal_report["cases"]}
    # The minimal public page touches neither session nor user: nothing to query without us, and the
    # anonymous visitor's session must not be loaded by us either.
    assert cases["unprotected_anonymous"]["queries_without"] == 0
    assert cases["unprotected_anonymous"]["queries_with"] == 0
    # The protected page loads the user (and, with database sessions, the session) in both variants.
    assert cases["protected_verified"]["queries_without"] >= 1
    assert cases["protected_verified"]["queries_with"] == cases["protected_verified"]["queries_without"]


@pytest.mark.django_db
def test_table_names_every_case_and_rule_count():
    stdout, stderr = run_bench("--rules", "1,5")
    for name in CASE_NAMES:
        assert name in stdout
    lines = stdout.splitlines()
    rule_lines = lines[lines.index(next(line for line in lines if line.strip().startswith("rules"))) + 1 :]
    assert [line.split()[0] for line in rule_lines] == ["1", "5"]
    assert "interval" in stdout
    assert "rule lookup" in stdout
    assert "Timing" in stderr


@pytest.mark.django_db
def test_run_leaves_no_user_and_no_session_behind():
    run_bench("--view", "minimal", "--rules", "1")
    assert not get_user_model().objects.exists()
    assert not Session.objects.exists()


@pytest.mark.django_db
def test_an_unenforced_protected_page_stops_the_run(settings):
    # The middleware must redirect the unverified user; if it lets them through, the figures are void.
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != bench_verification.MIDDLEWARE_PATH]
    with pytest.MonkeyPatch.context() as patch:
        # "With us" becomes a middleware that enforces nothing.
        patch.setattr(bench_verification, "MIDDLEWARE_PATH", "django.middleware.gzip.GZipMiddleware")
        with pytest.raises(CommandError, match="must redirect an unverified user"):
            run_bench("--view", "minimal", "--rules", "1")


@pytest.mark.parametrize("value", ["0", "x", "", "1,-3"])
def test_bad_rule_counts_are_refused(value):
    with pytest.raises(CommandError, match="--rules"):
        call_command("bench_verification", "--rules", value, stdout=StringIO(), stderr=StringIO())


def test_rule_sets_protect_the_page_measured_only_with_their_last_rule():
    rules = rule_set(1000)
    assert len(rules) == 1000
    assert rules[-1] == PROTECTED_URL_NAME
    assert PROTECTED_URL_NAME not in rules[:-1]
    kinds = {type(rule).__name__ + (rule[:1] if isinstance(rule, str) else "") for rule in rules[:-1]}
    assert {"str^", "str/", "strs", "dict"} <= kinds


@pytest.mark.django_db
def test_bench_urlconf_serves_the_site_too(settings):
    urlconf = build_urlconf("minimal", 3)
    assert isinstance(urlconf, BenchURLconf)
    settings.ROOT_URLCONF = urlconf
    client = Client()
    assert client.get("/bench/public/7/").status_code == 200
    assert client.get("/section-2/").status_code == 200
    assert client.get("/login/").status_code == 200


def test_ratio_interval_brackets_the_ratio_of_medians():
    slow = [108, 109, 110, 111, 112] * 20
    fast = [98, 99, 100, 101, 102] * 20
    low, high = ratio_interval(slow, fast)
    assert 1.0 < low <= 1.1 <= high < 1.2
    assert ratio_interval(fast, fast)[0] <= 1.0 <= ratio_interval(fast, fast)[1]
