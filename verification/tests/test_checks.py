"""System checks: every id, on its own, from a clean configuration; `manage.py check` fails on a bad setting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from verification.conf import DEFAULTS
from verification.middleware import VerificationRequiredMiddleware
from verification.tests.helpers_enforcement import (
    MIDDLEWARE_PATH,
    URLconfWithoutVerification,
    use_enforcement_urls,
    without_our_middleware,
)

TEST_BACKEND = "verification.tests.helpers_enforcement.LocalTestBackend"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


@pytest.fixture
def clean(settings: Any) -> Any:
    """A configuration that passes every check: the test URLconf, a test backend, DEBUG on."""
    use_enforcement_urls(settings, required=["^/account/", "polls:*", {"name": "account-settings", "max_age": 60}])
    settings.VERIFICATION_BACKEND = TEST_BACKEND
    settings.DEBUG = True
    return settings


def check_ids() -> list[str]:
    return sorted({message.id for message in run_checks(tags=["verification"]) if message.id})


def test_a_clean_configuration_passes(clean: Any) -> None:
    assert check_ids() == []


def test_the_test_sites_own_settings_pass(settings: Any) -> None:
    settings.DEBUG = True
    assert check_ids() == []


def test_every_message_has_a_hint(clean: Any) -> None:
    clean.VERIFICATION_CODE_LENGTH = 3
    clean.VERIFICATION_REQUIRED_URLS = ["^/(", "nope:*", "polls:nope", "^/"]
    clean.MIDDLEWARE = [MIDDLEWARE_PATH]
    messages = run_checks(tags=["verification"])
    assert len(messages) >= 5
    assert all(message.hint for message in messages)


# -- middleware -----------------------------------------------------------------------------------


def test_e001_rules_without_the_middleware(clean: Any) -> None:
    clean.MIDDLEWARE = without_our_middleware(list(clean.MIDDLEWARE))
    assert check_ids() == ["verification.E001"]
    clean.VERIFICATION_REQUIRED_URLS = []
    # Decorators alone need no middleware.
    assert check_ids() == []


def test_e002_authentication_middleware_missing_or_after(clean: Any) -> None:
    middleware = without_our_middleware(list(clean.MIDDLEWARE))
    position = middleware.index(AUTH_MIDDLEWARE)
    clean.MIDDLEWARE = [*middleware[:position], MIDDLEWARE_PATH, *middleware[position:]]
    assert check_ids() == ["verification.E002"]
    clean.MIDDLEWARE = [entry for entry in middleware if entry != AUTH_MIDDLEWARE] + [MIDDLEWARE_PATH]
    assert "verification.E002" in check_ids()


def test_a_subclass_of_the_middleware_counts(clean: Any) -> None:
    clean.MIDDLEWARE = [
        *without_our_middleware(list(clean.MIDDLEWARE)),
        "verification.tests.test_checks.SubclassedMiddleware",
    ]
    assert check_ids() == []


class SubclassedMiddleware(VerificationRequiredMiddleware):
    """A site's own subclass."""


# -- rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("VERIFICATION_REQUIRED_URLS", "^/account/", "verification.E003"),
        ("VERIFICATION_EXEMPT_URLS", {"path": "^/a/"}, "verification.E003"),
        ("VERIFICATION_REQUIRED_URLS", [123], "verification.E004"),
        ("VERIFICATION_EXEMPT_URLS", [{"path": "^/a/", "name": "x"}], "verification.E004"),
        ("VERIFICATION_REQUIRED_URLS", ["^/(account/"], "verification.E005"),
        ("VERIFICATION_EXEMPT_URLS", [{"path": "[z-a]"}], "verification.E005"),
        ("VERIFICATION_REQUIRED_URLS", ["^account/"], "verification.E006"),
        ("VERIFICATION_REQUIRED_URLS", [{"path": "polls/"}], "verification.E006"),
        ("VERIFICATION_REQUIRED_URLS", ["polls:nope"], "verification.E007"),
        ("VERIFICATION_EXEMPT_URLS", ["nope"], "verification.E007"),
        ("VERIFICATION_REQUIRED_URLS", ["nope:*"], "verification.E008"),
        ("VERIFICATION_EXEMPT_URLS", ["outer:nope:*"], "verification.E008"),
        ("VERIFICATION_REQUIRED_URLS", [{"name": "polls:detail", "max_age": 0}], "verification.E009"),
    ],
)
def test_rule_errors(clean: Any, setting: str, value: Any, expected: str) -> None:
    setattr(clean, setting, value)
    assert check_ids() == [expected]


def test_names_and_namespaces_of_every_kind_are_known(clean: Any) -> None:
    clean.VERIFICATION_REQUIRED_URLS = ["archive:detail", "archive:*", "outer:inner:page", "outer:inner:*", "home"]
    assert check_ids() == []


def test_e038_verification_pages_missing(clean: Any) -> None:
    clean.ROOT_URLCONF = URLconfWithoutVerification
    assert check_ids() == ["verification.E038"]


def test_w002_a_rule_covers_login(clean: Any) -> None:
    clean.VERIFICATION_REQUIRED_URLS = ["^/login/"]
    assert check_ids() == ["verification.W002"]
    clean.VERIFICATION_REQUIRED_URLS = ["login"]
    assert check_ids() == ["verification.W002"]


@pytest.mark.parametrize("rule", ["^/verify/", "/verify/confirm/", "verification:phone", "verification:*"])
def test_w003_a_rule_covers_the_verification_pages(clean: Any, rule: str) -> None:
    clean.VERIFICATION_REQUIRED_URLS = [rule]
    assert check_ids() == ["verification.W003"]


def test_a_catch_all_is_reported_for_both(clean: Any) -> None:
    clean.VERIFICATION_REQUIRED_URLS = [r"^/"]
    assert check_ids() == ["verification.W002", "verification.W003"]


def rule_message(check_id: str) -> Any:
    [message] = [message for message in run_checks(tags=["verification"]) if message.id == check_id]
    return message


def test_the_w002_and_w003_hints_say_which_exemption_silences_them(clean: Any) -> None:
    clean.VERIFICATION_REQUIRED_URLS = [r"^/"]
    assert "add 'login' to VERIFICATION_EXEMPT_URLS" in rule_message("verification.W002").hint
    assert "add 'verification:*' to VERIFICATION_EXEMPT_URLS" in rule_message("verification.W003").hint
    # The hint names the login view as LOGIN_URL resolves it.
    clean.LOGIN_URL = "/account/help/"
    assert "add 'account-help' to VERIFICATION_EXEMPT_URLS" in rule_message("verification.W002").hint


@pytest.mark.parametrize(
    ("required", "exempt"),
    [
        ([r"^/"], ["login", "verification:*"]),
        ([r"^/"], [r"^/login/$", r"^/verify/"]),
        (["login", "verification:phone", "verification:*"], ["login", "verification:*"]),
        (["^/login/", "^/verify/confirm/"], ["^/login/", "verification:confirm"]),
    ],
)
def test_an_explicit_exemption_silences_w002_and_w003(clean: Any, required: list[str], exempt: list[str]) -> None:
    clean.VERIFICATION_REQUIRED_URLS = required
    clean.VERIFICATION_EXEMPT_URLS = exempt
    assert check_ids() == []


def test_an_exemption_of_part_of_the_pages_leaves_the_warning(clean: Any) -> None:
    clean.VERIFICATION_REQUIRED_URLS = [r"^/"]
    clean.VERIFICATION_EXEMPT_URLS = ["verification:confirm", "^/log"]
    assert check_ids() == ["verification.W003"]
    clean.VERIFICATION_EXEMPT_URLS = ["verification:*", "account"]
    assert check_ids() == ["verification.W002"]


def test_the_checks_page_lists_i001() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "checks.md").read_text(encoding="utf-8")
    table = page[page.index("# System checks") : page.index("## The Vonage backend's checks")]
    assert re.search(r"^\| I001 \| .*`login_not_required`", table, re.M)


@pytest.mark.parametrize(
    "module",
    ["verification/rules.py", "verification/paths.py", "verification/_path_index.py", "verification/checks/rules.py"],
)
def test_the_rules_modules_name_nothing_of_the_demo(module: str) -> None:
    text = (Path(__file__).resolve().parents[2] / module).read_text(encoding="utf-8")
    assert not re.search(r"polls|pollstr", text, re.I)


def test_the_rule_hints_name_nothing_of_the_demo(clean: Any) -> None:
    clean.VERIFICATION_REQUIRED_URLS = [123, "nope:nope", "nope:*", "^nope/"]
    clean.VERIFICATION_EXEMPT_URLS = "^/"
    messages = run_checks(tags=["verification"])
    assert {message.id for message in messages} >= {f"verification.E00{n}" for n in (3, 4, 6, 7, 8)}
    for message in messages:
        assert not re.search(r"polls|pollstr", f"{message.msg} {message.hint}", re.I), message


@pytest.mark.parametrize("rule", ["^/", "^.*", "/"])
def test_w006_an_exemption_of_everything(clean: Any, rule: str) -> None:
    clean.VERIFICATION_EXEMPT_URLS = [rule]
    assert check_ids() == ["verification.W006"]


# -- backend --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["nope.Nope", "verification.backends.nope.Backend", "notdotted", ""])
def test_e011_backend_cannot_be_imported(clean: Any, path: str) -> None:
    clean.VERIFICATION_BACKEND = path
    assert check_ids() == ["verification.E011"]


@pytest.mark.parametrize(
    "path", ["verification.tests.helpers_enforcement.NotABackend", "verification.tests.helpers_enforcement.NUMBER"]
)
def test_e012_backend_is_not_a_backend(clean: Any, path: str) -> None:
    clean.VERIFICATION_BACKEND = path
    assert check_ids() == ["verification.E012"]


def test_e039_backend_cannot_deliver_any_channel(clean: Any) -> None:
    clean.VERIFICATION_CHANNELS = ["whatsapp"]
    assert check_ids() == ["verification.E039"]
    clean.VERIFICATION_CHANNELS = ["whatsapp", "voice"]
    assert check_ids() == []


LOCAL_BACKENDS = [
    "verification.backends.console.ConsoleVerifyBackend",
    "verification.backends.locmem.LocmemVerifyBackend",
]


def test_w001_locmem_backend_without_debug(clean: Any) -> None:
    clean.VERIFICATION_BACKEND = "verification.backends.locmem.LocmemVerifyBackend"
    assert check_ids() == []
    clean.DEBUG = False
    assert check_ids() == ["verification.W001"]


def test_e052_console_backend_without_debug_unless_allowed(clean: Any) -> None:
    clean.VERIFICATION_BACKEND = "verification.backends.console.ConsoleVerifyBackend"
    assert check_ids() == []
    clean.DEBUG = False
    assert check_ids() == ["verification.E052"]
    message = next(m for m in run_checks(tags=["verification"]) if m.id == "verification.E052")
    assert message.is_serious()
    assert "VERIFICATION_CONSOLE_BACKEND_ALLOWED = True" in message.hint
    clean.VERIFICATION_CONSOLE_BACKEND_ALLOWED = True
    assert check_ids() == ["verification.W001"]
    clean.VERIFICATION_CONSOLE_BACKEND_ALLOWED = "yes"
    assert check_ids() == ["verification.E037", "verification.E052"]


@pytest.mark.parametrize("backend", LOCAL_BACKENDS)
def test_a_local_backend_needs_no_brand(clean: Any, backend: str) -> None:
    clean.VERIFICATION_BACKEND = backend
    clean.VERIFICATION_BRAND = None
    assert check_ids() == []


def test_e051_a_provider_backend_needs_a_brand(clean: Any) -> None:
    del clean.VERIFICATION_BRAND
    assert check_ids() == ["verification.E051"]
    clean.VERIFICATION_BACKEND = "verification.backends.vonage.VonageVerifyBackend"
    clean.VONAGE_API_KEY, clean.VONAGE_API_SECRET = "key", "secret"
    assert "verification.E051" in check_ids()
    clean.VERIFICATION_BRAND = "Example Shop"
    assert "verification.E051" not in check_ids()


def test_the_backends_own_checks_are_added(clean: Any, mocker: Any) -> None:
    from verification.tests.helpers_enforcement import LocalTestBackend

    mocker.patch.object(
        LocalTestBackend,
        "check_configuration",
        classmethod(lambda cls: [Error("bad key", hint="fix it", id="verification.E021")]),
    )
    assert check_ids() == ["verification.E021"]


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "values", "expected"),
    [
        ("VERIFICATION_MAX_AGE", [0, -1, "300", True, 1.5], "verification.E010"),
        ("VERIFICATION_CODE_LENGTH", [3, 11, "6", 6.0, True], "verification.E013"),
        ("VERIFICATION_CODE_TTL", [0, 601, "300"], "verification.E014"),
        ("VERIFICATION_MAX_ATTEMPTS", [0, -1, True, None], "verification.E015"),
        ("VERIFICATION_SEND_LIMIT", [0, "3"], "verification.E016"),
        ("VERIFICATION_SEND_WINDOW", [0, 1.5], "verification.E017"),
        ("VERIFICATION_IP_SEND_LIMIT", [0, None], "verification.E018"),
        ("VERIFICATION_IP_SEND_WINDOW", [-3600, "3600"], "verification.E019"),
        ("VERIFICATION_RESEND_COOLDOWN", [-1, "30", None], "verification.E030"),
        ("VERIFICATION_CHANNELS", [[], ["sms", "sms"], ["telegram"], "sms", ["SMS"], None], "verification.E031"),
        ("VERIFICATION_ALLOWED_COUNTRIES", [["gb"], ["XX"], [], "GB", ["GB", 44]], "verification.E032"),
        ("VERIFICATION_DEFAULT_REGION", ["UK", "gb", "", 44], "verification.E033"),
        ("VERIFICATION_BRAND", ["", "   ", 5], "verification.E034"),
        ("VERIFICATION_BASE_TEMPLATE", ["", None, 5], "verification.E048"),
        ("VERIFICATION_CLIENT_IP_HEADER", ["", 5], "verification.E035"),
        ("VONAGE_TIMEOUT", [0, -1.0, "10", True, None], "verification.E036"),
        ("VERIFICATION_NUMBER_CHANGE_MAX_AGE", [0, -5, "600", None, 1.5, True], "verification.E047"),
        ("VONAGE_API_KEY", [123, None], "verification.E037"),
        ("VONAGE_PRIVATE_KEY", [b"-----BEGIN"], "verification.E037"),
    ],
)
def test_setting_errors(clean: Any, setting: str, values: list[Any], expected: str) -> None:
    for value in values:
        setattr(clean, setting, value)
        assert check_ids() == [expected], value


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("VERIFICATION_MAX_AGE", 1),
        ("VERIFICATION_CODE_LENGTH", 4),
        ("VERIFICATION_CODE_LENGTH", 10),
        ("VERIFICATION_CODE_TTL", 600),
        ("VERIFICATION_RESEND_COOLDOWN", 0),
        ("VERIFICATION_CHANNELS", ("sms", "voice")),
        ("VERIFICATION_ALLOWED_COUNTRIES", ["GB", "IE"]),
        ("VERIFICATION_DEFAULT_REGION", "GB"),
        ("VERIFICATION_CLIENT_IP_HEADER", "HTTP_X_FORWARDED_FOR"),
        ("VONAGE_TIMEOUT", 2),
    ],
)
def test_setting_edges_that_are_fine(clean: Any, setting: str, value: Any) -> None:
    setattr(clean, setting, value)
    assert check_ids() == []


def test_w004_default_region_not_allowed(clean: Any) -> None:
    clean.VERIFICATION_DEFAULT_REGION = "GB"
    clean.VERIFICATION_ALLOWED_COUNTRIES = ["IE", "FR"]
    assert check_ids() == ["verification.W004"]


def test_w005_client_ip_header_is_not_a_meta_key(clean: Any) -> None:
    clean.VERIFICATION_CLIENT_IP_HEADER = "X-Forwarded-For"
    assert check_ids() == ["verification.W005"]


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_every_setting_is_checked(clean: Any, name: str) -> None:
    setattr(clean, name, object())
    messages = [message for message in run_checks(tags=["verification"]) if message.is_serious()]
    assert messages, f"{name} = object() passes the checks"


def test_manage_py_check_fails_on_a_bad_setting(clean: Any) -> None:
    call_command("check", verbosity=0)
    clean.VERIFICATION_CODE_LENGTH = 3
    with pytest.raises(SystemCheckError, match=r"verification\.E013"):
        call_command("check", verbosity=0)


@pytest.mark.parametrize(
    "backend",
    ["verification.backends.vonage.VonageVerifyBackend", "verification.backends.vonage.VonageLegacyVerifyBackend"],
)
@pytest.mark.parametrize("missing", ["vonage", "vonage_verify", "vonage_http_client"])
def test_e053_the_vonage_backend_without_its_extra_names_the_extra(
    clean: Any, monkeypatch: Any, backend: str, missing: str
) -> None:
    import sys

    # As on a site that installed the package without [vonage]: the SDK's modules cannot be imported.
    for name in [name for name in sys.modules if name.startswith(("verification.backends.vonage", f"{missing}."))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)
    clean.VERIFICATION_BACKEND = backend

    (message,) = [m for m in run_checks(tags=["verification"]) if m.id in ("verification.E053", "verification.E011")]

    assert message.id == "verification.E053"
    assert repr(missing) in message.msg
    assert 'pip install "django-phone-verification[vonage]"' in message.hint


def test_a_typo_in_a_backend_path_is_still_e011(clean: Any) -> None:
    clean.VERIFICATION_BACKEND = "verification.backends.vonage.VonageVerifyBackends"
    assert check_ids() == ["verification.E011"]
    clean.VERIFICATION_BACKEND = "verification.backends.vonag.VonageVerifyBackend"
    assert check_ids() == ["verification.E011"]


def test_settings_without_a_urlconf_are_not_a_crash(clean: Any) -> None:
    del clean.ROOT_URLCONF

    assert "verification.E038" not in check_ids()
