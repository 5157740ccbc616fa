"""Rules that fit Django: views marked `login_not_required`, the admin's login, and the docs' catch-all example.

Requests go through the whole stack (the test client) on the other site's URLs (`othersite`), extended
here with what the cases need: a second AdminSite, an app of its own with a view named "login", a
namespaced view marked `login_not_required` included twice.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core import mail
from django.core.checks import INFO, run_checks
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from verification.decorators import verification_not_required
from verification.tests.helpers_enforcement import PASSWORD, make_user, verified_client
from verification.tests.othersite import urls as othersite_urls

HERE = Path(__file__).resolve().parent
RULES_PAGE = HERE.parents[1] / "docs" / "rules.md"
OTHERSITE_URLS = "verification.tests.othersite.urls"
OTHERSITE_TEMPLATES = HERE / "othersite" / "templates"
TEST_BACKEND = "verification.tests.helpers_enforcement.LocalTestBackend"


@login_not_required
def open_page(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """A page for anonymous users, marked as Django's LoginRequiredMiddleware wants it."""
    return HttpResponse("open")


def closed_page(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    return HttpResponse("closed")


@verification_not_required
@login_not_required
def doubly_open_page(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    return HttpResponse("open twice")


staff_site = admin.AdminSite(name="staff")
help_patterns = ([path("", open_page, name="index")], "help")
shop_patterns = ([path("login/", closed_page, name="login"), path("cart/", closed_page, name="cart")], "shop")

urlpatterns = [
    *othersite_urls.urlpatterns,
    path("welcome/", open_page, name="welcome"),
    path("both/", doubly_open_page, name="both"),
    # The app "help" twice: as itself, and as the instance "support".
    path("help/", include(help_patterns)),
    path("support/", include(help_patterns, namespace="support")),
    path("shop/", include(shop_patterns)),
    # A second AdminSite: its login is the admin's login too (app name "admin").
    path("staff/", staff_site.urls),
]
URLCONF = "verification.tests.test_django_rules"


@pytest.fixture
def site(settings: Any) -> Any:
    """The other site: its URLs (with this module's), its templates, LOGIN_URL "login", no rules yet."""
    settings.ROOT_URLCONF = URLCONF
    settings.LOGIN_URL = "login"
    settings.VERIFICATION_REQUIRED_URLS = []
    settings.VERIFICATION_EXEMPT_URLS = []
    settings.VERIFICATION_MAX_AGE = None
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [OTHERSITE_TEMPLATES]}]
    return settings


def target_of(response: Any) -> str:
    assert response.status_code == 302, response.status_code
    return urlsplit(response["Location"]).path


def unverified(client: Client) -> Client:
    client.force_login(make_user())
    return client


# -- views marked login_not_required ---------------------------------------------------------------


def test_django_marks_its_pages_for_anonymous_users_as_the_rules_read_them() -> None:
    from django.contrib.auth import views

    for view in (views.LoginView, views.PasswordResetView, views.PasswordResetConfirmView):
        assert view.as_view().login_required is False  # type: ignore[attr-defined]
    assert admin.site.login.login_required is False  # type: ignore[attr-defined]
    assert getattr(views.PasswordChangeView.as_view(), "login_required", True) is True


@pytest.mark.parametrize("rules", [[r"^/"], [r"^/accounts/", r"^/welcome/"], ["help:*", "support:*"]])
def test_views_marked_login_not_required_are_exempt_from_path_and_namespace_rules(
    client: Client, site: Any, db: Any, rules: list[str]
) -> None:
    site.VERIFICATION_REQUIRED_URLS = [*rules, "^/account/"]
    for page in ("/accounts/password_reset/", "/welcome/", "/help/", "/support/"):
        assert client.get(page).status_code == 200, page
    assert target_of(client.get("/account/")) == "/accounts/login/"
    unverified(client)
    for page in ("/accounts/password_reset/", "/welcome/", "/help/", "/support/"):
        assert client.get(page).status_code == 200, page
    assert target_of(client.get("/account/")) == "/verify/"


@pytest.mark.parametrize(
    ("rule", "protected", "open_"),
    [
        ("password_reset", ["/accounts/password_reset/"], ["/accounts/password_reset/done/", "/welcome/"]),
        ("welcome", ["/welcome/"], ["/accounts/password_reset/", "/help/"]),
        # The app-qualified name names every instance; the instance's name only its own.
        ("help:index", ["/help/", "/support/"], ["/welcome/"]),
        ("support:index", ["/support/"], ["/help/"]),
    ],
)
def test_a_name_rule_wins_over_login_not_required(
    client: Client, site: Any, db: Any, rule: str, protected: list[str], open_: list[str]
) -> None:
    site.VERIFICATION_REQUIRED_URLS = [r"^/", rule]
    for page in protected:
        assert target_of(client.get(page)) == "/accounts/login/", page
    for page in open_:
        assert client.get(page).status_code == 200, page
    unverified(client)
    for page in protected:
        assert target_of(client.get(page)) == "/verify/", page
    for page in open_:
        assert client.get(page).status_code == 200, page


def test_a_verified_user_passes_a_named_login_not_required_view(client: Client, site: Any, db: Any) -> None:
    site.VERIFICATION_REQUIRED_URLS = ["welcome"]
    verified_client(client)
    assert client.get("/welcome/").status_code == 200


def test_verification_not_required_and_exemptions_still_win_over_a_name_rule(
    client: Client, site: Any, db: Any
) -> None:
    site.VERIFICATION_REQUIRED_URLS = [r"^/", "both", "welcome", "help:index"]
    site.VERIFICATION_EXEMPT_URLS = ["welcome", r"^/help/"]
    for page in ("/both/", "/welcome/", "/help/"):
        assert client.get(page).status_code == 200, page
    assert target_of(client.get("/support/")) == "/accounts/login/"


# -- the admin's login -------------------------------------------------------------------------------


@pytest.mark.parametrize("rules", [[r"^/"], [r"^/", "admin:login", "staff:login", "admin:*", "staff:*"]])
def test_the_admin_login_is_always_reachable(client: Client, site: Any, db: Any, rules: list[str]) -> None:
    site.VERIFICATION_REQUIRED_URLS = rules
    for page in ("/admin/login/", "/staff/login/"):
        assert client.get(page).status_code == 200, page
    assert target_of(client.get("/admin/")) == "/accounts/login/"
    unverified(client)
    for page in ("/admin/login/", "/staff/login/"):
        assert client.get(page).status_code == 200, page
    assert target_of(client.get("/admin/")) == "/verify/"


def test_other_apps_views_named_login_stay_protected(client: Client, site: Any, db: Any) -> None:
    site.VERIFICATION_REQUIRED_URLS = [r"^/shop/"]
    assert target_of(client.get("/shop/login/")) == "/accounts/login/"
    site.VERIFICATION_REQUIRED_URLS = ["shop:login"]
    assert target_of(client.get("/shop/login/")) == "/accounts/login/"
    unverified(client)
    assert target_of(client.get("/shop/login/")) == "/verify/"


# -- I001: a name rule on a view marked login_not_required -------------------------------------------


def rule_messages() -> list[Any]:
    return [message for message in run_checks(tags=["verification"]) if (message.id or "").startswith("verification.")]


@pytest.mark.parametrize("rule", ["password_reset", "welcome", "help:index", "support:index"])
def test_i001_a_name_rule_on_a_login_not_required_view(site: Any, rule: str) -> None:
    site.VERIFICATION_BACKEND = TEST_BACKEND
    site.DEBUG = True
    site.VERIFICATION_REQUIRED_URLS = [rule]
    [message] = rule_messages()
    assert message.id == "verification.I001"
    assert message.level == INFO
    assert not message.is_serious()
    assert repr(rule) in message.msg
    assert "login_not_required" in message.msg
    assert "log in" in message.msg
    assert message.hint


@pytest.mark.parametrize(
    ("required", "exempt"),
    [
        ([r"^/accounts/password_reset/", r"^/welcome/"], []),  # path rules do not name a view
        (["help:*", "support:*"], []),  # nor do namespace rules
        (["admin:login", "staff:login"], []),  # always exempt: the rule does not win
        (["both"], []),  # verification_not_required wins
        (["welcome", "password_reset", "help:index"], ["welcome", r"^/accounts/password_reset/$", "help:*"]),
        (["account", "shop:login", "home"], []),  # not marked
    ],
)
def test_no_i001_where_no_name_rule_wins_over_login_not_required(
    site: Any, required: list[str], exempt: list[str]
) -> None:
    site.VERIFICATION_BACKEND = TEST_BACKEND
    site.DEBUG = True
    site.VERIFICATION_REQUIRED_URLS = required
    site.VERIFICATION_EXEMPT_URLS = exempt
    assert rule_messages() == []


def test_the_login_url_view_named_by_a_rule_is_w002_not_i001(site: Any) -> None:
    site.VERIFICATION_BACKEND = TEST_BACKEND
    site.DEBUG = True
    site.VERIFICATION_REQUIRED_URLS = ["login"]
    assert [message.id for message in rule_messages()] == ["verification.W002"]


@pytest.mark.parametrize("rule", ["admin:*", {"name": "admin:*", "max_age": 900}, r"^/"])
def test_the_admins_login_as_login_url_is_no_w002_since_it_is_exempt_by_name(site: Any, rule: Any) -> None:
    # A site whose only login page is the admin's (the quick start): "admin:*" leaves it open, as documented.
    site.VERIFICATION_BACKEND = TEST_BACKEND
    site.DEBUG = True
    site.LOGIN_URL = "admin:login"
    site.VERIFICATION_REQUIRED_URLS = [rule]
    assert "verification.W002" not in [message.id for message in rule_messages()]


def test_i001_does_not_fail_check_deploy_at_warning_level(site: Any) -> None:
    site.VERIFICATION_BACKEND = TEST_BACKEND
    site.VERIFICATION_GLOBAL_SEND_LIMIT = 1000
    # The admin behind verification too, or W010 would fail the run.
    site.VERIFICATION_REQUIRED_URLS = ["password_reset", {"name": "admin:*", "max_age": 900}]
    assert [message.id for message in rule_messages()] == ["verification.I001"]
    call_command("check", "--deploy", "--tag", "verification", "--fail-level", "WARNING", verbosity=0)


# -- the catch-all example of docs/rules.md -----------------------------------------------------------


def documented_catch_all() -> dict[str, Any]:
    """The settings of the catch-all example of docs/rules.md ("# Everything, ..." under "## Examples")."""
    text = RULES_PAGE.read_text(encoding="utf-8")
    examples = text[text.index("\n## Examples\n") :]
    block = examples[examples.index("```python\n") : examples.index("\n```\n")]
    example = block[block.index("# Everything") :]
    found = {
        target.id: ast.literal_eval(node.value)
        for node in ast.parse(example).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert set(found) >= {"VERIFICATION_REQUIRED_URLS", "VERIFICATION_EXEMPT_URLS"}, found
    return found


@pytest.fixture
def catch_all(site: Any) -> Any:
    """The other site exactly as it is, with the documented catch-all example for rules."""
    site.ROOT_URLCONF = OTHERSITE_URLS
    for name, value in documented_catch_all().items():
        setattr(site, name, value)
    return site


def test_the_documented_catch_all_example_protects_everything(catch_all: Any) -> None:
    assert catch_all.VERIFICATION_REQUIRED_URLS == [r"^/"]


def test_the_documented_catch_all_example_passes_check_deploy(catch_all: Any) -> None:
    catch_all.VERIFICATION_BACKEND = TEST_BACKEND
    catch_all.VERIFICATION_GLOBAL_SEND_LIMIT = 1000
    messages = [
        message
        for message in run_checks(include_deployment_checks=True)
        if (message.id or "").startswith("verification.")
    ]
    assert messages == []
    call_command("check", "--deploy", "--tag", "verification", "--fail-level", "WARNING", verbosity=0)


def test_the_documented_catch_all_example_keeps_the_site_usable(client: Client, catch_all: Any, db: Any) -> None:
    open_pages = ["/", "/signup/", "/about/", "/accounts/login/", "/accounts/password_reset/", "/admin/login/"]
    for page in open_pages:
        assert client.get(page).status_code == 200, page
    assert target_of(client.get("/account/")) == "/accounts/login/"
    assert target_of(client.get("/admin/")) == "/accounts/login/"
    unverified(client)
    for page in open_pages:
        assert client.get(page).status_code == 200, page
    assert target_of(client.get("/account/")) == "/verify/"


@pytest.mark.parametrize("logged_in", [False, True])
def test_the_whole_password_reset_runs_under_the_catch_all(
    client: Client, catch_all: Any, db: Any, logged_in: bool
) -> None:
    if django.VERSION >= (6, 1):
        # Django 6.1 sends mail through MAILERS and warns a site that has none (it sends by default till 2028).
        catch_all.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    user = get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    if logged_in:
        client.force_login(make_user())
    response = client.post("/accounts/password_reset/", {"email": "bob@example.com"})
    assert target_of(response) == "/accounts/password_reset/done/"
    assert client.get("/accounts/password_reset/done/").status_code == 200
    [email] = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", email.body)
    assert link is not None, email.body
    set_password = target_of(client.get(link.group(1)))
    assert set_password.endswith("/set-password/")
    assert client.get(set_password).status_code == 200
    new_password = "another horse battery staple 43"
    response = client.post(set_password, {"new_password1": new_password, "new_password2": new_password})
    assert target_of(response) == "/accounts/reset/done/"
    assert client.get("/accounts/reset/done/").status_code == 200
    user.refresh_from_db()
    assert user.check_password(new_password)
