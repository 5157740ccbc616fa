"""The registry of each user's sessions (`verification.sessions`): followed at login and every key change, revocable."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import signed_cookies
from django.core.checks import run_checks
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from verification import sessions, state
from verification.middleware import VerificationRequiredMiddleware
from verification.models import UserSession
from verification.testing import latest_code, verify_client
from verification.tests.helpers_enforcement import without_our_middleware

PASSWORD = "correct horse battery staple 42"
NUMBER = "+447400123456"
T0 = 1_750_000_000


class SessionStore(signed_cookies.SessionStore):
    """A site's own client-side engine: this module, named as SESSION_ENGINE, must get E054 too."""


@pytest.fixture
def user(db: Any) -> Any:
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def log_in(client: Client, username: str = "alice") -> str:
    """Log in through the real login view; return the session's key."""
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, "the login failed"
    return client.session.session_key  # type: ignore[return-value]


def registered_keys(user: Any) -> set[str]:
    return set(UserSession.objects.filter(user=user).values_list("session_key", flat=True))


def verify_through_the_flow(client: Client) -> None:
    client.post("/verify/send/", {"number": NUMBER})
    response = client.post("/verify/confirm/", {"code": latest_code()})
    assert response.status_code == 302
    assert response["Location"] == "/"


def engine_has(key: str) -> bool:
    return bool(import_module(django_settings.SESSION_ENGINE).SessionStore().exists(key))


def request_for(client: Client, user: Any) -> Any:
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    return request


# -- registered at login, followed through every key change, forgotten at logout ------------------------------


def test_logging_in_registers_the_session_and_its_login_time(client: Client, user: Any) -> None:
    with time_machine.travel(T0, tick=False):
        key = log_in(client)
        assert registered_keys(user) == {key}
        request = request_for(client, user)
        assert sessions.logged_in_at(request) == T0
    assert sessions.is_registered(request)


def test_anonymous_sessions_are_never_registered(client: Client, user: Any) -> None:
    client.get("/")
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    request = RequestFactory().get("/")
    request.session = client.session
    request.session.save()
    request.user = AnonymousUser()
    sessions.register(request, login=True)
    assert not UserSession.objects.exists()
    assert sessions.logged_in_at(request) is None
    assert not sessions.is_registered(request)


def test_registering_twice_keeps_one_row(client: Client, user: Any) -> None:
    key = log_in(client)
    request = request_for(client, user)
    sessions.register(request)
    sessions.register(request, previous_key=key)
    assert registered_keys(user) == {key}


def test_the_verification_moves_the_row_to_the_new_key(client: Client, user: Any) -> None:
    before = log_in(client)
    created_at = UserSession.objects.get().created_at
    verify_through_the_flow(client)
    after = client.session.session_key
    assert after
    assert after != before
    assert registered_keys(user) == {after}
    assert UserSession.objects.get().created_at == created_at
    assert client.get("/account/").status_code == 200


def test_mark_session_verified_registers_a_session_unknown_to_the_registry(client: Client, user: Any) -> None:
    client.force_login(user)
    UserSession.objects.all().delete()
    request = request_for(client, user)
    state.mark_session_verified(request, NUMBER)
    assert registered_keys(user) == {request.session.session_key}
    assert request.session[state.SESSION_KEY]["reg"] == 1


def test_a_password_change_moves_the_row_to_the_new_key(client: Client, user: Any) -> None:
    before = log_in(client)
    response = client.post(
        "/password_change/",
        {"old_password": PASSWORD, "new_password1": "another horse 9381!", "new_password2": "another horse 9381!"},
    )
    assert response.status_code == 302
    after = client.session.session_key
    assert after
    assert after != before
    assert registered_keys(user) == {after}
    # Still logged in under the new key, which the registry can end.
    assert sessions.end_sessions(user) == 1
    assert client.get("/account/")["Location"].startswith("/login/")


def test_logging_out_forgets_the_session(client: Client, user: Any) -> None:
    log_in(client)
    client.post("/logout/")
    assert not UserSession.objects.exists()


# -- the middleware follows a key change, and costs nothing when there is none ----------------------------------


def test_a_request_whose_key_does_not_change_costs_no_query_and_no_write(
    client: Client, user: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    log_in(client)
    verify_client(client)
    full = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = without_our_middleware(full)
    with CaptureQueriesContext(connection) as without_us:
        assert client.get("/account/").status_code == 200
    settings.MIDDLEWARE = full

    def no_register(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("registered a session whose key did not change")

    monkeypatch.setattr(sessions, "register", no_register)
    with django_assert_num_queries(len(without_us)):
        assert client.get("/account/").status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 200


def _cycling_request(user: Any) -> Any:
    store = import_module(django_settings.SESSION_ENGINE).SessionStore()
    store.create()
    request = RequestFactory().get("/")
    request.session = store
    request.user = user

    async def auser() -> Any:
        return user

    request.auser = auser
    return request


def test_the_middleware_registers_a_key_a_view_cycled(user: Any) -> None:
    request = _cycling_request(user)
    before = request.session.session_key
    UserSession.objects.create(user=user, session_key=before)

    def view(request: Any) -> HttpResponse:
        request.session.cycle_key()
        return HttpResponse()

    VerificationRequiredMiddleware(view)(request)
    assert registered_keys(user) == {request.session.session_key} != {before}


def test_the_async_middleware_registers_a_key_a_view_cycled(user: Any) -> None:
    request = _cycling_request(user)
    before = request.session.session_key
    UserSession.objects.create(user=user, session_key=before)

    async def view(request: Any) -> HttpResponse:
        await request.session.acycle_key()
        return HttpResponse()

    async_to_sync(VerificationRequiredMiddleware(view))(request)
    assert registered_keys(user) == {request.session.session_key} != {before}


def test_the_middleware_registers_nothing_for_an_anonymous_session(db: Any) -> None:
    request = _cycling_request(AnonymousUser())

    def view(request: Any) -> HttpResponse:
        request.session.cycle_key()
        return HttpResponse()

    VerificationRequiredMiddleware(view)(request)
    assert not UserSession.objects.exists()


# -- ending sessions, on every server-side engine ----------------------------------------------------------------


@pytest.fixture(params=["db", "cached_db", "cache", "file"])
def engine(request: Any, settings: Any, tmp_path: Any) -> str:
    name = request.param
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{name}"
    if name in ("cached_db", "cache"):
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"verification-sessions-{name}",
            }
        }
    if name == "file":
        settings.SESSION_FILE_PATH = str(tmp_path)
    return name


def test_end_sessions_logs_the_other_sessions_out_and_keeps_the_current_one(engine: str, user: Any) -> None:
    here, there = Client(), Client()
    kept = log_in(here)
    ended = log_in(there)
    verify_client(here)
    verify_client(there)
    assert here.get("/account/").status_code == 200
    assert there.get("/account/").status_code == 200

    assert sessions.end_sessions(user, keep=kept) == 1

    assert not engine_has(ended)
    assert engine_has(kept)
    assert registered_keys(user) == {kept}
    response = there.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert here.get("/account/").status_code == 200


def test_end_sessions_without_keep_ends_them_all(engine: str, user: Any) -> None:
    clients = [Client(), Client()]
    for client in clients:
        log_in(client)
    assert sessions.end_sessions(user) == 2
    assert not UserSession.objects.exists()
    for client in clients:
        assert client.get("/account/")["Location"].startswith("/login/")
    assert sessions.end_sessions(user) == 0


def test_end_sessions_ends_only_that_users_sessions(user: Any) -> None:
    get_user_model().objects.create_user("bob", password=PASSWORD)
    alice, bob = Client(), Client()
    log_in(alice)
    log_in(bob, "bob")
    assert sessions.end_sessions(user) == 1
    assert bob.get("/account/").status_code == 302  # logged in, not verified: sent to verify, not to log in
    assert bob.get("/account/")["Location"].startswith("/verify/")


def test_end_sessions_logs_the_user_and_the_count_only(user: Any, caplog: pytest.LogCaptureFixture) -> None:
    key = log_in(Client())
    with caplog.at_level("INFO", logger="verification.sessions"):
        sessions.end_sessions(user)
    assert [record.getMessage() for record in caplog.records] == [f"Ended 1 session(s) of user {user.pk}."]
    assert key not in caplog.text


# -- pruning --------------------------------------------------------------------------------------------------


def test_rows_of_sessions_the_engine_lost_are_pruned_at_the_next_registration(engine: str, user: Any) -> None:
    gone = log_in(Client())
    import_module(django_settings.SESSION_ENGINE).SessionStore().delete(gone)
    assert registered_keys(user) == {gone}
    kept = log_in(Client())
    assert registered_keys(user) == {kept}


def test_prune_keeps_live_sessions(user: Any) -> None:
    live = log_in(Client())
    UserSession.objects.create(user=user, session_key="x" * 32)
    assert sessions.prune(user) == 1
    assert registered_keys(user) == {live}


# -- the upgrade: a verification made before the registry no longer counts --------------------------------------


def test_a_verification_from_before_the_registry_must_be_made_again(client: Client, user: Any) -> None:
    client.force_login(user)
    verify_client(client)
    session = client.session
    old_state = dict(session[state.SESSION_KEY])
    del old_state["reg"]
    session[state.SESSION_KEY] = old_state
    session.save()
    UserSession.objects.all().delete()

    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/verify/")

    verify_through_the_flow(client)
    assert registered_keys(user) == {client.session.session_key}
    assert client.get("/account/").status_code == 200


def test_verify_client_registers_the_session(client: Client, user: Any) -> None:
    client.force_login(user)
    UserSession.objects.all().delete()
    verify_client(client)
    assert registered_keys(user) == {client.session.session_key}
    assert client.session[state.SESSION_KEY]["reg"] == 1


# -- client-side sessions --------------------------------------------------------------------------------------


def check_ids() -> list[str]:
    return sorted({message.id for message in run_checks(tags=["verification"]) if message.id})


@pytest.mark.parametrize(
    "session_engine", ["django.contrib.sessions.backends.signed_cookies", "verification.tests.test_sessions"]
)
def test_client_side_sessions_are_an_error(settings: Any, session_engine: str) -> None:
    settings.SESSION_ENGINE = session_engine
    assert "verification.E054" in check_ids()
    message = next(m for m in run_checks(tags=["verification"]) if m.id == "verification.E054")
    assert "cached_db" in (message.hint or "")


@pytest.mark.parametrize("session_engine", ["db", "cached_db", "cache", "file"])
def test_server_side_sessions_pass(settings: Any, session_engine: str) -> None:
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{session_engine}"
    assert "verification.E054" not in check_ids()


def test_nothing_is_registered_for_client_side_sessions(settings: Any, user: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    log_in(client)
    assert not UserSession.objects.exists()
