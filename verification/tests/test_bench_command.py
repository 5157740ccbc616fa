"""The enforcement benchmark command: its output's shape and sanity, never its timings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from verification._bench import pages
from verification._bench.pages import CASE_RULES, PROTECTED_URL_NAME, BenchURLconf, build_urlconf, rule_set
from verification._bench.stats import ratio_interval
from verification.management.commands import bench_verification

CASE_NAMES = ["unprotected_anonymous", "protected_verified", "protected_unverified"]
TINY = ["--requests", "6", "--rounds", "2", "--use-current-database"]
REPOSITORY = Path(__file__).resolve().parents[2]
OTHERSITE_SETTINGS = "verification.tests.othersite.settings"
AUTHENTICATION_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
LOGIN_REQUIRED_MIDDLEWARE = "django.contrib.auth.middleware.LoginRequiredMiddleware"
DEMO_NAMES = re.compile("pollstr|polls", re.IGNORECASE)


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


def assert_documented_shape(report: dict[str, Any], counts: list[int]) -> None:
    assert set(report) == {"cases", "rules"}
    assert [case["name"] for case in report["cases"]] == CASE_NAMES
    for case in report["cases"]:
        assert set(case) == {"name", "with_us", "without_us", "ratio", "queries_with", "queries_without"}
    assert [row["count"] for row in report["rules"]] == counts
    for row in report["rules"]:
        assert set(row) == {"count", "us", "ratio_to_one"}


def assert_positive_figures_whose_ratios_follow(report: dict[str, Any]) -> None:
    for case in report["cases"]:
        assert case["with_us"] > 0
        assert case["without_us"] > 0
        assert case["ratio"] == pytest.approx(case["with_us"] / case["without_us"], rel=1e-3)
        assert isinstance(case["queries_with"], int)
        assert isinstance(case["queries_without"], int)
    baseline = report["rules"][0]["us"]
    assert report["rules"][0]["ratio_to_one"] == 1.0
    for row in report["rules"]:
        assert row["us"] > 0
        assert row["ratio_to_one"] == pytest.approx(row["us"] / baseline, rel=1e-3)


def test_json_has_exactly_the_documented_shape(minimal_report):
    assert_documented_shape(minimal_report, [1, 10, 50])


def test_figures_are_positive_and_the_ratios_follow_from_them(minimal_report):
    assert_positive_figures_whose_ratios_follow(minimal_report)


@pytest.mark.parametrize("view", ["page", "minimal"])
def test_the_bench_runs_on_a_site_that_is_not_the_demo(view, tmp_path):
    # Another process, so the other site's settings are the only ones: no base.html, no polls app, a
    # layout without a `content` block. The site's own database must stay untouched (never created).
    site_database = tmp_path / "othersite.sqlite3"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "bench_verification",
            f"--settings={OTHERSITE_SETTINGS}",
            "--requests",
            "6",
            "--rounds",
            "2",
            "--rules",
            "1,10",
            "--view",
            view,
            "--json",
        ],
        cwd=REPOSITORY,
        env={**os.environ, "OTHERSITE_DATABASE": str(site_database)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert_documented_shape(report, [1, 10])
    assert_positive_figures_whose_ratios_follow(report)
    assert not site_database.exists()


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


@pytest.mark.django_db
def test_a_view_that_raises_stops_the_run_with_the_request_and_the_exception(monkeypatch):
    def broken_view(request, number):
        raise RuntimeError("the bench view broke")

    monkeypatch.setitem(pages.VIEWS, "minimal", broken_view)
    with pytest.raises(CommandError) as excinfo:
        run_bench("--view", "minimal", "--rules", "1")
    message = str(excinfo.value)
    assert "GET /bench/public/1/ answered 500, not 200" in message
    assert "raised RuntimeError: the bench view broke" in message
    assert "--traceback" in message
    # Chained, so --traceback shows where the view raised it.
    assert isinstance(excinfo.value.__cause__, RuntimeError)


@pytest.mark.django_db
def test_a_site_without_authentication_middleware_is_told_what_to_add(settings):
    settings.MIDDLEWARE = [
        name
        for name in settings.MIDDLEWARE
        if name not in (AUTHENTICATION_MIDDLEWARE, bench_verification.MIDDLEWARE_PATH)
    ]
    with pytest.raises(CommandError, match=f"lacks {AUTHENTICATION_MIDDLEWARE}.*Add it to MIDDLEWARE"):
        run_bench("--view", "minimal", "--rules", "1")


@pytest.mark.django_db
def test_a_site_that_requires_logins_everywhere_or_prepends_www_can_be_measured(settings):
    settings.PREPEND_WWW = True
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(AUTHENTICATION_MIDDLEWARE) + 1, LOGIN_REQUIRED_MIDDLEWARE)
    settings.MIDDLEWARE = middleware
    stdout, _stderr = run_bench("--view", "minimal", "--rules", "1", "--json")
    assert_documented_shape(json.loads(stdout), [1])


@pytest.mark.parametrize("value", ["0", "x", "", "1,-3"])
def test_bad_rule_counts_are_refused(value):
    with pytest.raises(CommandError, match="--rules"):
        call_command("bench_verification", "--rules", value, stdout=StringIO(), stderr=StringIO())


def test_a_rule_count_that_is_no_number_is_refused_with_the_parse_error():
    with pytest.raises(CommandError, match=r"not '1,x' \(ValueError: invalid literal for int\(\)"):
        call_command("bench_verification", "--rules", "1,x", stdout=StringIO(), stderr=StringIO())


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


@pytest.mark.django_db
def test_the_page_is_a_whole_html_page_that_needs_none_of_the_sites_templates(settings):
    settings.TEMPLATES = []
    settings.ROOT_URLCONF = build_urlconf("page", 3)
    response = Client().get("/bench/public/7/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    assert "<title>Page 7</title>" in html
    assert 'href="/bench/public/5/"' in html
    assert 'href="/section-0/"' in html
    assert "Not logged in" in html


def test_case_rules_name_urls_of_the_bench_and_end_with_the_page_measured():
    urlconf = build_urlconf("minimal", 1)
    assert len(CASE_RULES) == 4
    assert CASE_RULES[-1] == PROTECTED_URL_NAME
    for name in CASE_RULES:
        assert isinstance(name, str)
        assert reverse(name, urlconf=urlconf, kwargs={"number": 1} if name == PROTECTED_URL_NAME else None)


def test_the_reusable_app_names_nothing_of_the_demo():
    app = REPOSITORY / "verification"
    mentions = [
        f"{source.relative_to(REPOSITORY)}:{number}: {line.strip()}"
        for source in sorted(app.rglob("*"))
        if source.suffix in (".py", ".html") and app / "tests" not in source.parents
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1)
        if DEMO_NAMES.search(line)
    ]
    assert mentions == []


def test_ratio_interval_brackets_the_ratio_of_medians():
    slow = [108, 109, 110, 111, 112] * 20
    fast = [98, 99, 100, 101, 102] * 20
    low, high = ratio_interval(slow, fast)
    assert 1.0 < low <= 1.1 <= high < 1.2
    assert ratio_interval(fast, fast)[0] <= 1.0 <= ratio_interval(fast, fast)[1]
