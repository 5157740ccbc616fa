"""`verification.testing`, the helpers for a site's own tests: a client marked verified, the outbox, the fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from verification import state
from verification.backends import locmem
from verification.backends.base import CodeMessage
from verification.backends.locmem import LocmemVerifyBackend
from verification.models import VerifiedNumber
from verification.testing import LOCMEM_BACKEND, TEST_NUMBER, clear_outbox, latest_code, outbox, verify_client
from verification.testing.fixtures import verification_outbox, verification_user, verified_client  # noqa: F401

REPOSITORY = Path(__file__).resolve().parents[2]
OTHER_NUMBER = "+447911125678"
PASSWORD = "correct horse battery staple 42"
PHONE = reverse("verification:phone")
PROTECTED = ["/account/", "/shop/1/", "/shop/1/results/"]
CONSOLE_BACKEND = "verification.backends.console.ConsoleVerifyBackend"


@pytest.fixture
def user(db: Any) -> Any:
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def alice(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def leads_to_verification(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(PHONE)


# --- verify_client ----------------------------------------------------------------------------------------


def test_verify_client_lets_a_logged_in_client_through_the_protected_pages(alice: Client) -> None:
    assert all(leads_to_verification(alice.get(path)) for path in PROTECTED)

    verify_client(alice)

    for path in PROTECTED:
        assert alice.get(path).status_code == 200, path
    assert alice.post("/shop/1/vote/").status_code == 200
    assert state.get_state(alice.get("/").wsgi_request).number == TEST_NUMBER


def test_verify_client_records_the_number_given(alice: Client) -> None:
    verify_client(alice, OTHER_NUMBER)

    assert state.get_state(alice.get("/").wsgi_request).number == OTHER_NUMBER


@pytest.mark.parametrize("make_client", [Client, AsyncClient], ids=["client", "async client"])
def test_verify_client_refuses_a_client_that_is_not_logged_in(db: Any, make_client: Any) -> None:
    anonymous = make_client()

    with pytest.raises(ValueError, match=r"force_login"):
        verify_client(anonymous)

    assert not VerifiedNumber.objects.exists()
    assert state.SESSION_KEY not in anonymous.session


@pytest.mark.django_db(transaction=True)
def test_verify_client_marks_an_async_client_verified(user: Any) -> None:
    client = AsyncClient()
    client.force_login(user)

    verify_client(client)

    assert async_to_sync(client.get)("/account/").status_code == 200


def test_verify_client_saves_the_number_on_file_by_default(alice: Client, user: Any) -> None:
    verify_client(alice)
    assert VerifiedNumber.objects.get(user=user).number == TEST_NUMBER

    verify_client(alice, OTHER_NUMBER)
    assert VerifiedNumber.objects.get(user=user).number == OTHER_NUMBER
    assert VerifiedNumber.objects.count() == 1


def test_verify_client_without_save_number_leaves_what_is_on_file(alice: Client, user: Any) -> None:
    verify_client(alice, save_number=False)
    assert not VerifiedNumber.objects.exists()
    assert alice.get("/account/").status_code == 200

    VerifiedNumber.objects.create(user=user, number=OTHER_NUMBER)
    verify_client(alice, save_number=False)
    assert VerifiedNumber.objects.get(user=user).number == OTHER_NUMBER


def test_the_number_saved_is_the_one_the_flow_offers_and_this_session_may_change(alice: Client) -> None:
    verify_client(alice)

    html = alice.get(PHONE).content.decode()

    assert "+44 •••• ••3456" in html
    # As after confirming a code: the session verified the number on file just now, so it may change it.
    assert ">Use another number</button>" in html
    assert 'name="number"' in alice.get(PHONE, {"other": "1"}).content.decode()


def test_the_verification_is_of_now_and_ages_as_a_real_one(alice: Client, settings: Any, time_machine: Any) -> None:
    settings.VERIFICATION_MAX_AGE = 60
    # On a whole second: the session keeps the time of verification in whole seconds.
    time_machine.move_to(timezone.now().replace(microsecond=0), tick=False)
    verify_client(alice)

    time_machine.shift(timedelta(seconds=60))
    assert alice.get("/account/").status_code == 200
    time_machine.shift(timedelta(seconds=1))
    assert leads_to_verification(alice.get("/account/"))


def test_a_password_change_ends_it_as_it_ends_a_real_verification(alice: Client) -> None:
    verify_client(alice)
    assert alice.get("/account/").status_code == 200

    changed = alice.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "another horse 9381!", "new_password2": "another horse 9381!"},
    )

    assert changed.status_code == 302
    # Still logged in (update_session_auth_hash), no longer verified.
    assert alice.get("/account/").status_code == 302
    assert leads_to_verification(alice.get("/account/"))
    verify_client(alice)
    assert alice.get("/account/").status_code == 200


# --- the outbox ---------------------------------------------------------------------------------------------


def test_latest_code_is_the_newest_code_or_the_newest_to_a_number(db: Any) -> None:
    backend = LocmemVerifyBackend()
    backend.start(TEST_NUMBER)
    first_to_test_number = outbox()[-1].code
    backend.start(OTHER_NUMBER)
    to_other_number = outbox()[-1].code

    assert latest_code() == to_other_number
    assert latest_code(TEST_NUMBER) == first_to_test_number
    assert latest_code(OTHER_NUMBER) == to_other_number

    backend.start(TEST_NUMBER)
    assert latest_code(TEST_NUMBER) == outbox()[-1].code != first_to_test_number


def test_latest_code_raises_lookup_error_when_nothing_was_sent(db: Any) -> None:
    with pytest.raises(LookupError, match="No code was sent"):
        latest_code()

    LocmemVerifyBackend().start(TEST_NUMBER)

    with pytest.raises(LookupError, match=rf"No code was sent to \{OTHER_NUMBER}"):
        latest_code(OTHER_NUMBER)


def test_outbox_is_the_locmem_backends_oldest_first_and_clear_outbox_empties_it(db: Any) -> None:
    LocmemVerifyBackend().start(TEST_NUMBER)
    LocmemVerifyBackend().start(OTHER_NUMBER)

    assert outbox() is locmem.outbox
    assert [message.number for message in outbox()] == [TEST_NUMBER, OTHER_NUMBER]
    clear_outbox()
    assert outbox() == []
    with pytest.raises(LookupError):
        latest_code()


def test_the_constants_name_the_locmem_backend_and_a_number_the_flow_accepts(alice: Client, settings: Any) -> None:
    assert import_string(LOCMEM_BACKEND) is LocmemVerifyBackend
    settings.VERIFICATION_BACKEND = LOCMEM_BACKEND

    sent = alice.post(reverse("verification:send"), {"number": TEST_NUMBER})

    assert sent.status_code == 302
    assert [message.number for message in outbox()] == [TEST_NUMBER]


# --- the pytest fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def outbox_on_a_console_site(settings: Any, request: pytest.FixtureRequest) -> list[CodeMessage]:
    """`verification_outbox`, asked for on a site that sends with the console backend, after another test's code."""
    settings.VERIFICATION_BACKEND = CONSOLE_BACKEND
    locmem.outbox.append(CodeMessage(TEST_NUMBER, "123456", "sms", "left-over", "Your code is 123456."))
    return request.getfixturevalue("verification_outbox")


def test_verification_outbox_selects_locmem_and_starts_empty(
    outbox_on_a_console_site: list[CodeMessage], alice: Client, settings: Any
) -> None:
    assert settings.VERIFICATION_BACKEND == LOCMEM_BACKEND
    assert outbox_on_a_console_site == []
    assert outbox_on_a_console_site is outbox()

    alice.post(reverse("verification:send"), {"number": TEST_NUMBER})

    [message] = outbox_on_a_console_site
    assert message.number == TEST_NUMBER
    assert message.code == latest_code()


def test_verified_client_is_logged_in_verified_with_the_number_on_file(verified_client: Client) -> None:  # noqa: F811
    for path in PROTECTED:
        assert verified_client.get(path).status_code == 200, path
    account = verified_client.get("/account/").content.decode()
    assert account == "account of verified-user"
    assert VerifiedNumber.objects.get(user__username="verified-user").number == TEST_NUMBER


SITE_CONFTEST = 'pytest_plugins = ["verification.testing.fixtures"]\n'
SITE_TESTS = """
from verification.backends.locmem import LocmemVerifyBackend
from verification.testing import TEST_NUMBER, outbox


def test_1_an_earlier_test_leaves_a_code(db):
    LocmemVerifyBackend().start(TEST_NUMBER)
    assert len(outbox()) == 1


def test_2_the_outbox_starts_empty(verification_outbox, verified_client):
    assert verification_outbox == []
    assert verified_client.get("/account/").status_code == 200
    verified_client.post("/verify/send/", {"number": "+447911125678"})
    assert [message.number for message in verification_outbox] == ["+447911125678"]


def test_3_and_is_emptied_after():
    assert outbox() == []
"""


def test_the_fixtures_load_as_the_documentation_says_from_a_sites_conftest(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(SITE_CONFTEST)
    (tmp_path / "test_site.py").write_text(textwrap.dedent(SITE_TESTS))
    environment = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "CACHE_URL")}
    environment.update(PYTHONPATH=str(REPOSITORY), DJANGO_SETTINGS_MODULE="verification.tests.settings")

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_importing_the_helpers_does_not_import_pytest_and_the_app_does_not_import_them() -> None:
    code = textwrap.dedent(
        """
        import os, sys
        import django
        os.environ["DJANGO_SETTINGS_MODULE"] = "verification.tests.settings"
        django.setup()
        import verification.middleware, verification.urls, verification.views
        assert "verification.testing" not in sys.modules, "the app imported verification.testing"
        import verification.testing
        assert "pytest" not in sys.modules, "verification.testing imported pytest"
        """
    )
    environment = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}

    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=60
    )

    assert run.returncode == 0, run.stderr


def test_averify_client_verifies_from_async_code(db: Any) -> None:
    from asgiref.sync import async_to_sync, sync_to_async
    from django.contrib.auth import get_user_model

    from verification.testing import averify_client

    async def an_async_test() -> int:
        user = await sync_to_async(get_user_model().objects.create_user)("async-user")
        client = AsyncClient()
        await client.aforce_login(user)
        await averify_client(client)
        return (await client.get("/account/")).status_code

    assert async_to_sync(an_async_test)() == 200


@pytest.fixture
def custom_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("someone-else", email="else@example.com")


def test_a_site_gives_verified_client_a_user_of_its_own(client: Client, custom_user: Any, request: Any) -> None:
    # As a site's conftest overrides `verification_user`: the fixture logs in whoever it returns.
    request.getfixturevalue("db")
    from verification.testing.fixtures import verified_client as fixture

    verified = fixture.__wrapped__(client, custom_user)  # type: ignore[attr-defined]

    assert verified.get("/account/").content.decode() == "account of someone-else"
