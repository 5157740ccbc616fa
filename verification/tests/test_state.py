"""The verification state in the session: bound to user, auth hash, number and time; no query to read it."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from verification import state
from verification.state import SESSION_KEY, VerifiedState

NUMBER = "+447700900123"
T0 = 1_750_000_000


@pytest.fixture(autouse=True)
def _fast_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


FIRST_PASSWORD = "first password 1"


def make_user(pk: int = 7) -> User:
    """An unsaved user: computing its session hash needs no database."""
    user = User(pk=pk, username=f"user{pk}")
    user.set_password(FIRST_PASSWORD)
    return user


def make_request(user: Any) -> Any:
    """A request whose session holds `user`'s login, as after django.contrib.auth.login()."""
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = user
    if user.is_authenticated:
        request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()

    async def auser() -> Any:
        return user

    request.auser = auser
    return request


def test_mark_then_read(db: Any, django_assert_num_queries: Any) -> None:
    request = make_request(make_user())
    with time_machine.travel(T0, tick=False):
        state.mark_verified(request, NUMBER)
        with django_assert_num_queries(0):
            current = state.get_state(request)
            assert state.is_verified(request)
    assert current == VerifiedState("7", request.session[HASH_SESSION_KEY], NUMBER, T0)


def test_only_a_logged_in_user_can_be_marked() -> None:
    request = make_request(AnonymousUser())
    with pytest.raises(ValueError, match="logged-in"):
        state.mark_verified(request, NUMBER)
    assert SESSION_KEY not in request.session


def test_an_anonymous_request_is_never_verified() -> None:
    request = make_request(make_user())
    state.mark_verified(request, NUMBER)
    request.user = AnonymousUser()
    assert state.get_state(request) is None
    assert not state.is_verified(request)


def test_the_state_belongs_to_its_user() -> None:
    request = make_request(make_user(pk=7))
    state.mark_verified(request, NUMBER)
    request.user = make_user(pk=8)
    assert state.get_state(request) is None


def test_a_new_password_hash_ends_the_state() -> None:
    user = make_user()
    request = make_request(user)
    state.mark_verified(request, NUMBER)
    user.set_password("second password 2")
    # What update_session_auth_hash() does after a password change.
    request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    assert state.get_state(request) is None


def test_without_a_stored_hash_the_users_own_hash_is_the_reference() -> None:
    user = make_user()
    request = make_request(user)
    del request.session[HASH_SESSION_KEY]
    state.mark_verified(request, NUMBER)
    assert state.is_verified(request)
    user.set_password("second password 2")
    assert not state.is_verified(request)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "verified",
        [],
        {},
        {"user": "7", "hash": "x", "number": NUMBER},
        {"user": "7", "hash": "x", "number": NUMBER, "at": "yesterday"},
        {"user": "7", "hash": "", "number": NUMBER, "at": T0, "reg": 1},
    ],
)
def test_damaged_state_counts_as_none(raw: Any) -> None:
    request = make_request(make_user())
    request.session[SESSION_KEY] = raw
    assert state.get_state(request) is None
    assert not state.is_verified(request)


def test_max_age_from_the_argument_else_the_setting(settings: Any) -> None:
    request = make_request(make_user())
    with time_machine.travel(T0, tick=False) as traveller:
        state.mark_verified(request, NUMBER)
        traveller.shift(300)
        settings.VERIFICATION_MAX_AGE = None
        assert state.is_verified(request)
        assert state.is_verified(request, 300)
        assert not state.is_verified(request, 299)
        settings.VERIFICATION_MAX_AGE = 299
        assert not state.is_verified(request)
        assert state.is_verified(request, 600)
        settings.VERIFICATION_MAX_AGE = 300
        assert state.is_verified(request)
        assert state.get_state(request).age() == 300  # type: ignore[union-attr]


def test_clear_forgets_the_state() -> None:
    request = make_request(make_user())
    state.mark_verified(request, NUMBER)
    state.clear(request)
    assert SESSION_KEY not in request.session
    assert not state.is_verified(request)
    state.clear(request)  # clearing twice is fine


def test_an_explicit_user_is_used_instead_of_request_user() -> None:
    user = make_user()
    request = make_request(user)
    state.mark_verified(request, NUMBER, user=user)
    del request.user
    assert state.is_verified(request, user=user)
    assert state.get_state(request, user=make_user(pk=9)) is None


def test_async_reads_use_auser() -> None:
    user = make_user()
    request = make_request(user)
    state.mark_verified(request, NUMBER)
    del request.user  # reading it would raise AttributeError
    assert async_to_sync(state.ais_verified)(request)
    assert async_to_sync(state.aget_state)(request).number == NUMBER  # type: ignore[union-attr]
    assert not async_to_sync(state.ais_verified)(request, -1)
